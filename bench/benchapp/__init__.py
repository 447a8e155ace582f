"""A tenant app that exists only for the migrate_schemas benchmark (bench/settings_benchapp.py
adds it to TENANT_APPS); its 0002 is the "one new migration" every tenant must apply."""
