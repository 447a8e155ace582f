"""Bot commands of the X feed, sent in a bound group by its admins: ``forwarding``
(/xforward, /xunforward, /xforwarding) and ``rules`` (/xrule, /xunrule, /xrules);
``common`` checks who may use them."""
