"""Many runs into one answer: ``compare``, ``sweep`` and ``family_study``.

Each study builds run configs and hands them to one scheduler, then turns the finished
run directories into tables (``aelab.report.tables``) and figures (``aelab.viz``).
"""
