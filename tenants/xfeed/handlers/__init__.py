"""Bot commands of the X feed, sent in a bound group by its admins: ``forwarding``
(/xforward, /xunforward, /xforwarding), ``rules`` (/xrule, /xunrule, /xrules) and
``kols`` (/kols); ``common`` checks who may use them."""
