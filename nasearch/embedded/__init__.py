"""Data embedded in the package, so nasearch runs with no data folder. Read with ``importlib.resources``.

Laid out like a ``$NASEARCH_DATA`` folder, so one relative path names a file in either place (the
user's folder, when it holds the file, wins):

* ``nb201/nb201.csv.gz``: the NAS-Bench-201 table (all 15,625 cells x CIFAR-10, CIFAR-100,
  ImageNet16-120; NATS-Bench / NAS-Bench-201 figures, MIT-licensed releases), read by
  :mod:`nasearch.benchmarks.table` when neither ``benchmark.path`` nor ``$NASEARCH_DATA`` gives one;
* ``scores/*.csv.gz``: proxy score tables this project computed (``nasearch scores export`` format),
  read-only beneath the user's score store by :mod:`nasearch.proxies.shipped`.

``DATA.md`` states where each file comes from and under which licence. Nothing writes here.
"""
