"""What to cite: the BibTeX of the benchmark, strategy and proxies a configuration uses (``nasearch cite``).

:data:`BIBTEX` holds every entry, keyed by its BibTeX key, as plain strings; the tables below map the
names the registries use to those keys:

* :data:`BENCHMARKS`: every benchmark (``nasearch.benchmarks.BENCHMARKS``) and search space
  (``nasearch.space.space_names()``); ``auto`` is ``nb201``;
* :data:`PROXIES`: every registered proxy (``nasearch proxies``); the authors and years its ``paper``
  field names are among its entries here (a test checks it);
* :data:`STRATEGIES`: every registered strategy (``nasearch strategies``), likewise (``.paper``);
* :data:`TOOLS`: the libraries a run builds on (Hydra for every configured run, DEAP for
  ``task=evolve``).

A registered name missing from its table fails the tests (``tests/unit/test_cite.py``), so a new plugin
adds its entry here. Entries were checked against the papers' own pages (proceedings, OpenReview,
arXiv, the authors' repositories); titles are the published ones, typos included (NAS-Bench-Macro's
paper is titled "Monto-Carlo" in the CVPR proceedings).

Python::

    import nasearch.api as nas
    from nasearch import cite

    cfg = nas.config("strategy=rea", "proxy=gradsign")
    print(cite.bibtex(cfg))          # NB201, NATS-Bench, REA, GradSign, Hydra, nasearch
    cite.entries(cfg)                # {bibtex key: entry}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nasearch import __version__
from nasearch.config import ConfigError

if TYPE_CHECKING:
    from nasearch.config import Config

# ------------------------------------------------------------------------------------------ entries
BIBTEX: dict[str, str] = {
    # ---- benchmarks and search spaces
    "dong2020nasbench201": r"""@inproceedings{dong2020nasbench201,
  title     = {{NAS-Bench-201}: Extending the Scope of Reproducible Neural Architecture Search},
  author    = {Dong, Xuanyi and Yang, Yi},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2020},
  url       = {https://openreview.net/forum?id=HJxyZkBKDr},
}""",
    "dong2021natsbench": r"""@article{dong2021natsbench,
  title   = {{NATS-Bench}: Benchmarking {NAS} Algorithms for Architecture Topology and Size},
  author  = {Dong, Xuanyi and Liu, Lu and Musial, Katarzyna and Gabrys, Bogdan},
  journal = {IEEE Transactions on Pattern Analysis and Machine Intelligence (TPAMI)},
  year    = {2021},
  doi     = {10.1109/TPAMI.2021.3054824},
}""",
    # NAS-Bench-Macro; "Monto-Carlo" is the spelling of the published title
    "su2021prioritized": r"""@inproceedings{su2021prioritized,
  title     = {Prioritized Architecture Sampling with {Monto-Carlo} Tree Search},
  author    = {Su, Xiu and Huang, Tao and Li, Yanxi and You, Shan and Wang, Fei and Qian, Chen and Zhang, Changshui and Xu, Chang},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2021},
  doi       = {10.1109/CVPR46437.2021.01082},
}""",
    "duan2021transnas": r"""@inproceedings{duan2021transnas,
  title     = {{TransNAS-Bench-101}: Improving Transferability and Generalizability of Cross-Task Neural Architecture Search},
  author    = {Duan, Yawen and Chen, Xin and Xu, Hang and Chen, Zewei and Liang, Xiaodan and Zhang, Tong and Li, Zhenguo},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2021},
  url       = {https://arxiv.org/abs/2105.11871},
}""",
    "bessalah2025analognasbench": r"""@misc{bessalah2025analognasbench,
  title         = {{AnalogNAS-Bench}: A {NAS} Benchmark for Analog In-Memory Computing},
  author        = {Bessalah, Aniss and Abdelmoumen, Hatem Mohamed and Benatchba, Karima and Benmeziane, Hadjer},
  year          = {2025},
  eprint        = {2506.18495},
  archivePrefix = {arXiv},
  url           = {https://arxiv.org/abs/2506.18495},
}""",
    # ---- proxies
    "abdelfattah2021zerocost": r"""@inproceedings{abdelfattah2021zerocost,
  title     = {Zero-Cost Proxies for Lightweight {NAS}},
  author    = {Abdelfattah, Mohamed S. and Mehrotra, Abhinav and Dudziak, {\L}ukasz and Lane, Nicholas D.},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2021},
  url       = {https://openreview.net/forum?id=0cmMMy8J5q},
}""",
    "zhang2022gradsign": r"""@inproceedings{zhang2022gradsign,
  title     = {{GradSign}: Model Performance Inference with Theoretical Insights},
  author    = {Zhang, Zhihao and Jia, Zhihao},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2022},
}""",
    "jiang2023meco": r"""@inproceedings{jiang2023meco,
  title     = {{MeCo}: Zero-Shot {NAS} with One Data and Single Forward Pass via Minimum Eigenvalue of Correlation},
  author    = {Jiang, Tangyu and Wang, Haodi and Bie, Rongfang},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  volume    = {36},
  year      = {2023},
}""",
    "peng2024swap": r"""@inproceedings{peng2024swap,
  title     = {{SWAP-NAS}: Sample-Wise Activation Patterns for Ultra-fast {NAS}},
  author    = {Peng, Yameng and Song, Andy and Fayek, Haytham M. and Ciesielski, Vic and Chang, Xiaojun},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2024},
  url       = {https://openreview.net/forum?id=tveiUXU2aa},
}""",
    "lee2024aznas": r"""@inproceedings{lee2024aznas,
  title     = {{AZ-NAS}: Assembling Zero-Cost Proxies for Network Architecture Search},
  author    = {Lee, Junghyup and Ham, Bumsub},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages     = {5893--5903},
  year      = {2024},
}""",
    "chen2021tenas": r"""@inproceedings{chen2021tenas,
  title     = {Neural Architecture Search on {ImageNet} in Four {GPU} Hours: A Theoretically Inspired Perspective},
  author    = {Chen, Wuyang and Gong, Xinyu and Wang, Zhangyang},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2021},
}""",
    "casarin2025lswag": r"""@inproceedings{casarin2025lswag,
  title     = {{L-SWAG}: Layer-Sample Wise Activation with Gradients Information for Zero-Shot {NAS} on Vision Transformers},
  author    = {Casarin, Sofia and Escalera, Sergio and Lanz, Oswald},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages     = {4441--4451},
  year      = {2025},
}""",
    "li2023zico": r"""@inproceedings{li2023zico,
  title     = {{ZiCo}: Zero-shot {NAS} via Inverse Coefficient of Variation on Gradients},
  author    = {Li, Guihong and Yang, Yuedong and Bhardwaj, Kartikeya and Marculescu, Radu},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2023},
  url       = {https://openreview.net/forum?id=rwo-ls5GqGn},
}""",
    "tanaka2020synflow": r"""@inproceedings{tanaka2020synflow,
  title     = {Pruning Neural Networks without Any Data by Iteratively Conserving Synaptic Flow},
  author    = {Tanaka, Hidenori and Kunin, Daniel and Yamins, Daniel L. K. and Ganguli, Surya},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  volume    = {33},
  year      = {2020},
}""",
    "lee2019snip": r"""@inproceedings{lee2019snip,
  title     = {{SNIP}: Single-shot Network Pruning based on Connection Sensitivity},
  author    = {Lee, Namhoon and Ajanthan, Thalaiyasingam and Torr, Philip H. S.},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2019},
}""",
    "wang2020grasp": r"""@inproceedings{wang2020grasp,
  title     = {Picking Winning Tickets Before Training by Preserving Gradient Flow},
  author    = {Wang, Chaoqi and Zhang, Guodong and Grosse, Roger},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2020},
}""",
    "turner2020blockswap": r"""@inproceedings{turner2020blockswap,
  title     = {{BlockSwap}: {Fisher}-guided Block Substitution for Network Compression on a Budget},
  author    = {Turner, Jack and Crowley, Elliot J. and O'Boyle, Michael and Storkey, Amos and Gray, Gavin},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2020},
  url       = {https://openreview.net/forum?id=SklkDkSFPB},
}""",
    "theis2018fisher": r"""@misc{theis2018fisher,
  title         = {Faster Gaze Prediction with Dense Networks and {Fisher} Pruning},
  author        = {Theis, Lucas and Korshunova, Iryna and Tejani, Alykhan and Husz{\'a}r, Ferenc},
  year          = {2018},
  eprint        = {1801.05787},
  archivePrefix = {arXiv},
}""",
    # jacob_cov is the score of the paper's first arXiv version (as zero-cost-nas implements it)
    "mellor2020naswot": r"""@misc{mellor2020naswot,
  title         = {Neural Architecture Search without Training},
  author        = {Mellor, Joseph and Turner, Jack and Storkey, Amos and Crowley, Elliot J.},
  year          = {2020},
  eprint        = {2006.04647},
  archivePrefix = {arXiv},
  note          = {Version 1},
}""",
    "mellor2021naswot": r"""@inproceedings{mellor2021naswot,
  title     = {Neural Architecture Search without Training},
  author    = {Mellor, Joseph and Turner, Jack and Storkey, Amos and Crowley, Elliot J.},
  booktitle = {Proceedings of the 38th International Conference on Machine Learning (ICML)},
  series    = {Proceedings of Machine Learning Research},
  volume    = {139},
  year      = {2021},
  url       = {https://proceedings.mlr.press/v139/mellor21a.html},
}""",
    "lin2021zennas": r"""@inproceedings{lin2021zennas,
  title     = {{Zen-NAS}: A Zero-Shot {NAS} for High-Performance Image Recognition},
  author    = {Lin, Ming and Wang, Pichao and Sun, Zhenhong and Chen, Hesen and Sun, Xiuyu and Qian, Qi and Li, Hao and Jin, Rong},
  booktitle = {IEEE/CVF International Conference on Computer Vision (ICCV)},
  year      = {2021},
}""",
    "akhauri2022eznas": r"""@inproceedings{akhauri2022eznas,
  title     = {{EZNAS}: Evolving Zero-Cost Proxies For Neural Architecture Scoring},
  author    = {Akhauri, Yash and Munoz, J. Pablo and Jain, Nilesh and Iyer, Ravi},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  volume    = {35},
  year      = {2022},
  url       = {https://openreview.net/forum?id=lSqaDG4dvdt},
}""",
    "zhang2019ghn": r"""@inproceedings{zhang2019ghn,
  title     = {Graph {HyperNetworks} for Neural Architecture Search},
  author    = {Zhang, Chris and Ren, Mengye and Urtasun, Raquel},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2019},
}""",
    "knyazev2021ghn2": r"""@inproceedings{knyazev2021ghn2,
  title     = {Parameter Prediction for Unseen Deep Architectures},
  author    = {Knyazev, Boris and Drozdzal, Michal and Taylor, Graham W. and Romero-Soriano, Adriana},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  volume    = {34},
  year      = {2021},
}""",
    # ---- strategies
    "bergstra2012random": r"""@article{bergstra2012random,
  title   = {Random Search for Hyper-Parameter Optimization},
  author  = {Bergstra, James and Bengio, Yoshua},
  journal = {Journal of Machine Learning Research (JMLR)},
  volume  = {13},
  pages   = {281--305},
  year    = {2012},
}""",
    "li2019randomnas": r"""@inproceedings{li2019randomnas,
  title     = {Random Search and Reproducibility for Neural Architecture Search},
  author    = {Li, Liam and Talwalkar, Ameet},
  booktitle = {Conference on Uncertainty in Artificial Intelligence (UAI)},
  year      = {2019},
  url       = {https://arxiv.org/abs/1902.07638},
}""",
    "real2019regularized": r"""@inproceedings{real2019regularized,
  title     = {Regularized Evolution for Image Classifier Architecture Search},
  author    = {Real, Esteban and Aggarwal, Alok and Huang, Yanping and Le, Quoc V.},
  booktitle = {Proceedings of the AAAI Conference on Artificial Intelligence},
  volume    = {33},
  pages     = {4780--4789},
  year      = {2019},
}""",
    "williams1992reinforce": r"""@article{williams1992reinforce,
  title   = {Simple Statistical Gradient-Following Algorithms for Connectionist Reinforcement Learning},
  author  = {Williams, Ronald J.},
  journal = {Machine Learning},
  volume  = {8},
  number  = {3--4},
  pages   = {229--256},
  year    = {1992},
  doi     = {10.1007/BF00992696},
}""",
    "zoph2017nas": r"""@inproceedings{zoph2017nas,
  title     = {Neural Architecture Search with Reinforcement Learning},
  author    = {Zoph, Barret and Le, Quoc V.},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2017},
}""",
    "falkner2018bohb": r"""@inproceedings{falkner2018bohb,
  title     = {{BOHB}: Robust and Efficient Hyperparameter Optimization at Scale},
  author    = {Falkner, Stefan and Klein, Aaron and Hutter, Frank},
  booktitle = {Proceedings of the 35th International Conference on Machine Learning (ICML)},
  series    = {Proceedings of Machine Learning Research},
  volume    = {80},
  pages     = {1437--1446},
  year      = {2018},
}""",
    "white2021bananas": r"""@inproceedings{white2021bananas,
  title     = {{BANANAS}: Bayesian Optimization with Neural Architectures for Neural Architecture Search},
  author    = {White, Colin and Neiswanger, Willie and Savani, Yash},
  booktitle = {Proceedings of the AAAI Conference on Artificial Intelligence},
  volume    = {35},
  number    = {12},
  pages     = {10293--10301},
  year      = {2021},
}""",
    "he2024robot": r"""@inproceedings{he2024robot,
  title     = {Robustifying and Boosting Training-Free Neural Architecture Search},
  author    = {He, Zhenfeng and Shu, Yao and Dai, Zhongxiang and Low, Bryan Kian Hsiang},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2024},
  url       = {https://openreview.net/forum?id=qPloNoDJZn},
}""",
    "akiba2019optuna": r"""@inproceedings{akiba2019optuna,
  title     = {Optuna: A Next-generation Hyperparameter Optimization Framework},
  author    = {Akiba, Takuya and Sano, Shotaro and Yanase, Toshihiko and Ohta, Takeru and Koyama, Masanori},
  booktitle = {Proceedings of the 25th ACM SIGKDD International Conference on Knowledge Discovery and Data Mining},
  pages     = {2623--2631},
  year      = {2019},
}""",
    # multi-objective search: NSGA-II's sorting and crowding distance (mo_rea's tournament), Syne Tune's
    # MultiObjectiveRegularizedEvolution (mo_rea follows it), random scalarizations (random_scalarization);
    # Paria et al. is UAI 2019, published in PMLR volume 115 in 2020 (its proceedings page's year)
    "deb2002nsga2": r"""@article{deb2002nsga2,
  title   = {A Fast and Elitist Multiobjective Genetic Algorithm: {NSGA-II}},
  author  = {Deb, Kalyanmoy and Pratap, Amrit and Agarwal, Sameer and Meyarivan, T.},
  journal = {IEEE Transactions on Evolutionary Computation},
  volume  = {6},
  number  = {2},
  pages   = {182--197},
  year    = {2002},
  doi     = {10.1109/4235.996017},
}""",
    "salinas2022synetune": r"""@inproceedings{salinas2022synetune,
  title     = {Syne Tune: A Library for Large Scale Hyperparameter Tuning and Reproducible Research},
  author    = {Salinas, David and Seeger, Matthias and Klein, Aaron and Perrone, Valerio and Wistuba, Martin and Archambeau, Cedric},
  booktitle = {International Conference on Automated Machine Learning (AutoML Conf)},
  series    = {Proceedings of Machine Learning Research},
  volume    = {188},
  year      = {2022},
  url       = {https://proceedings.mlr.press/v188/salinas22a.html},
}""",
    "paria2020random": r"""@inproceedings{paria2020random,
  title     = {A Flexible Framework for Multi-Objective {Bayesian} Optimization using Random Scalarizations},
  author    = {Paria, Biswajit and Kandasamy, Kirthevasan and P{\'o}czos, Barnab{\'a}s},
  booktitle = {Proceedings of The 35th Uncertainty in Artificial Intelligence Conference (UAI)},
  series    = {Proceedings of Machine Learning Research},
  volume    = {115},
  pages     = {766--776},
  year      = {2020},
  url       = {https://proceedings.mlr.press/v115/paria20a.html},
}""",
    # ---- tools (Hydra's entry is the one its README asks for)
    "yadan2019hydra": r"""@misc{yadan2019hydra,
  title        = {Hydra - A framework for elegantly configuring complex applications},
  author       = {Yadan, Omry},
  howpublished = {GitHub},
  year         = {2019},
  url          = {https://github.com/facebookresearch/hydra},
}""",
    "fortin2012deap": r"""@article{fortin2012deap,
  title   = {{DEAP}: Evolutionary Algorithms Made Easy},
  author  = {Fortin, F{\'e}lix-Antoine and De Rainville, Fran{\c{c}}ois-Michel and Gardner, Marc-Andr{\'e} and Parizeau, Marc and Gagn{\'e}, Christian},
  journal = {Journal of Machine Learning Research (JMLR)},
  volume  = {13},
  pages   = {2171--2175},
  year    = {2012},
}""",
    # ---- this package
    "nasearch": r"""@misc{nasearch,
  title        = {nasearch: Neural Architecture Search with Zero-Cost Proxies on Tabular Benchmarks},
  author       = {{the nasearch authors}},
  year         = {2026},
  howpublished = {\url{https://github.com/nasearch/nasearch}},
  note         = {Version """ + __version__ + r""", MIT License},
}""",
}

NASEARCH = "nasearch"
"""The key of nasearch's own entry."""

BENCHMARKS: dict[str, tuple[str, ...]] = {
    # the NB201 table: NATS-Bench's 200-epoch figures, NAS-Bench-201's 12-epoch ones (embedded/DATA.md)
    "nb201": ("dong2020nasbench201", "dong2021natsbench"),
    # AnalogNAS-Bench's accuracies over the NB201 space
    "analognas": ("bessalah2025analognasbench", "dong2020nasbench201"),
    "nasbench_macro": ("su2021prioritized",),
    "transnas101_micro": ("duan2021transnas",),
    "transnas101_macro": ("duan2021transnas",),
}
"""Benchmarks and search spaces (one name each where they share it); ``auto`` resolves to ``nb201``."""

# the zero-cost collection (Abdelfattah et al.) adapted the pruning scores below to NAS and is the
# reference implementation nasearch's versions follow
PROXIES: dict[str, tuple[str, ...]] = {
    "eznas": ("akhauri2022eznas",),
    "fisher": ("turner2020blockswap", "theis2018fisher", "abdelfattah2021zerocost"),
    "flops": ("abdelfattah2021zerocost",),
    "ghn": ("zhang2019ghn", "knyazev2021ghn2"),
    "ghn_loss": ("zhang2019ghn", "knyazev2021ghn2"),
    "ghn2": ("knyazev2021ghn2", "zhang2019ghn"),
    "ghn2_loss": ("knyazev2021ghn2", "zhang2019ghn"),
    "grad_norm": ("abdelfattah2021zerocost",),
    "gradsign": ("zhang2022gradsign",),
    "grasp": ("wang2020grasp", "abdelfattah2021zerocost"),
    "jacob_cov": ("mellor2020naswot", "abdelfattah2021zerocost"),
    "naswot": ("mellor2021naswot",),
    "params": ("abdelfattah2021zerocost",),
    "snip": ("lee2019snip", "abdelfattah2021zerocost"),
    "synflow": ("tanaka2020synflow", "abdelfattah2021zerocost"),
    "zen": ("lin2021zennas",),
    "zico": ("li2023zico",),
    "zico_f64": ("li2023zico",),
    "meco": ("jiang2023meco",),
    "meco_opt": ("jiang2023meco",),
    "swap": ("peng2024swap",),
    "reg_swap": ("peng2024swap",),
    "az_expressivity": ("lee2024aznas",),
    "az_progressivity": ("lee2024aznas",),
    "az_trainability": ("lee2024aznas",),
    "az_nas": ("lee2024aznas",),
    "libra": ("casarin2025lswag", "lee2024aznas"),
    "lswag": ("casarin2025lswag",),
    "tenas_ntk": ("chen2021tenas",),
    "tenas_lr": ("chen2021tenas",),
    "te_nas": ("chen2021tenas",),
    "ensemble": ("lee2024aznas",),
}
"""Every registered proxy (the GHN proxies: the GHN paper and GHN-2, whose design our GHN follows), and
``ensemble`` (any rank ensemble: the log-rank sum is AZ-NAS's; its members are cited too)."""

STRATEGIES: dict[str, tuple[str, ...]] = {
    "rs": ("bergstra2012random", "li2019randomnas"),
    "rea": ("real2019regularized",),
    "reinforce": ("williams1992reinforce", "zoph2017nas"),
    "bohb": ("falkner2018bohb",),
    "predictor": ("white2021bananas",),
    "robot": ("he2024robot",),
    "optuna": ("akiba2019optuna",),
    "mo_rea": ("real2019regularized", "deb2002nsga2", "salinas2022synetune"),
    "random_scalarization": ("paria2020random", "real2019regularized"),
}
"""Every registered strategy (random search: the method, and the paper that made it NAS's baseline)."""

TOOLS: dict[str, tuple[str, ...]] = {
    "hydra": ("yadan2019hydra",),
    "deap": ("fortin2012deap",),
}
"""Libraries a run builds on: Hydra composes every configured run; DEAP runs ``task=evolve``."""

_TABLES = {"benchmark": BENCHMARKS, "proxy": PROXIES, "strategy": STRATEGIES, "tool": TOOLS}
_FOLDER_ROOTS = ("task", "benchmark", "dataset", "strategy", "proxy", "mpi", "experiment")
"""Config sections of a run folder's overrides that decide what it cites (the rest is left out)."""
_FOLDER_PATH_KEYS = ("benchmark.path", "proxy.checkpoint", "proxy.store")
"""Paths a run folder's overrides may name that need not exist where it is cited."""


def keys_for(kind: str, name: str) -> tuple[str, ...]:
    """The BibTeX keys of ``name`` in table ``kind`` (benchmark, proxy, strategy, tool)."""
    table = _TABLES[kind]
    if kind == "benchmark" and name == "auto":
        name = "nb201"
    base = name.partition(":")[0]  # "eznas:<program>" is eznas
    if base not in table:
        from nasearch.suggest import did_you_mean

        raise ConfigError(
            f"no citation for {kind} {name!r}; accepted: {', '.join(sorted(table))}{did_you_mean(base, table)} "
            f"(a new {kind} adds its entry to nasearch/cite.py)"
        )
    return table[base]


def _cited_proxies(ref: str) -> list[str]:
    """The proxy table names a proxy reference cites: itself (``eznas:<program>`` is eznas), or for an
    ensemble (``ensemble:...``, a preset) the ensemble and every member."""
    from nasearch.proxies import get_proxy

    base = ref.partition(":")[0]
    members = get_proxy(ref).members if base == "ensemble" or base in PROXIES else ()
    if not members:
        return [base]
    from nasearch.proxies.ensembles import split_member

    return ["ensemble" if base == "ensemble" else base, *(split_member(m)[0].partition(":")[0] for m in members)]


# ------------------------------------------------------------------------------------ per config
def _uses(cfgs: Iterable[Config]) -> dict[str, list[str]]:
    """Ordered ``{bibtex key: [what uses it, ...]}`` for one or more configs."""
    out: dict[str, list[str]] = {}

    def add(kind: str, name: str) -> None:
        label = f"{kind} {name}"
        for key in keys_for(kind, name):
            used = out.setdefault(key, [])
            if label not in used:
                used.append(label)

    tools: list[str] = ["hydra"]
    for cfg in cfgs:
        bench = "nb201" if cfg.benchmark.name == "auto" else cfg.benchmark.name
        add("benchmark", bench)
        if cfg.task == "search":
            add("strategy", cfg.strategy.name)
            features = cfg.strategy.params.get("features") or ()  # a learning strategy's proxy features
            for f in ([features] if isinstance(features, str) else features):
                base = str(f).partition(":")[0]
                if base in PROXIES:  # "encoding" cites nothing; "ghn" (the GHN embedding) cites the GHN
                    for name in _cited_proxies(str(f)):
                        add("proxy", name)
        if cfg.task == "mpi":
            for p in cfg.mpi.proxies:
                for name in _cited_proxies(p):
                    add("proxy", name)
        elif cfg.task == "train_ghn":
            add("proxy", "ghn")
        elif cfg.task == "evolve":
            add("proxy", "eznas")
            tools.append("deap")
        elif cfg.proxy.name != "none" and not (cfg.task == "search" and cfg.proxy.vanilla):
            for name in _cited_proxies(cfg.proxy.ref):  # a search with proxy.n=1 screens nothing: the vanilla arm
                add("proxy", name)
    for t in tools:
        add("tool", t)
    out.setdefault(NASEARCH, []).append("nasearch")
    return out


def _as_list(cfg: Config | Iterable[Config]) -> list[Config]:
    from nasearch.config import Config

    return [cfg] if isinstance(cfg, Config) else list(cfg)


def entries(cfg: Config | Iterable[Config]) -> dict[str, str]:
    """``{bibtex key: entry}`` of what a validated config (or several: a sweep) uses: its benchmark
    (``auto``: nb201), its strategy (``task=search``), its proxy unless ``none`` or a search's
    ``proxy.n=1`` (nothing screened) (``task=mpi``: every proxy in ``mpi.proxies``; ``train_ghn``: the
    GHN; ``evolve``: EZNAS and DEAP), Hydra and nasearch."""
    return {key: BIBTEX[key] for key in _uses(_as_list(cfg))}


def bibtex(cfg: Config | Iterable[Config]) -> str:
    """:func:`entries` as one BibTeX text, each entry under a ``%`` comment saying what uses it."""
    return "\n\n".join(f"% {'; '.join(used)}\n{BIBTEX[key]}" for key, used in _uses(_as_list(cfg)).items()) + "\n"


def all_entries() -> dict[str, str]:
    """Every entry, ``{bibtex key: entry}``."""
    return dict(BIBTEX)


def bibtex_all() -> str:
    """Every entry as one BibTeX text, each under a comment naming what uses it."""
    used: dict[str, list[str]] = {key: [] for key in BIBTEX}
    for kind, table in _TABLES.items():
        for name, keys in table.items():
            for key in keys:
                used[key].append(f"{kind} {name}")
    used[NASEARCH].append("nasearch")
    return "\n\n".join(f"% {'; '.join(u)}\n{BIBTEX[k]}" for k, u in used.items()) + "\n"


# ------------------------------------------------------------------------------ overrides, folders
def _key(override: str) -> str:
    return override.lstrip("+~").partition("=")[0]


def _combos(overrides: Sequence[str]) -> list[list[str]]:
    """Every job of the overrides' sweep (``strategy=rs,rea``) and of an ``experiment=`` preset's
    ``hydra.sweeper.params`` that the overrides do not set: a sweep cites the union of its jobs."""
    import itertools

    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from nasearch.config import register_configs

    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(list(overrides))
    except HydraException as exc:
        raise ConfigError(f"cannot parse the overrides {' '.join(overrides)!r}: {str(exc).splitlines()[0]}") from None
    axes = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override()
            else [o.input_line] for o in parsed]
    if any(_key(o) == "experiment" for o in overrides):
        register_configs()
        GlobalHydra.instance().clear()
        try:
            with initialize_config_module(config_module="nasearch.conf", version_base=None):
                primary = [o.input_line for o in parsed if not o.is_sweep_override()]
                hcfg = compose(config_name="config", overrides=primary, return_hydra_config=True)
                params = dict(hcfg.hydra.sweeper.get("params") or {})
        except (HydraException, OmegaConfBaseException):
            params = {}  # nasearch.api.config reports the error with its context
        finally:
            GlobalHydra.instance().clear()
        given = {o.get_key_element() for o in parsed}
        extra = [f"{k}={v}" for k, v in params.items() if k not in given]
        if extra:
            for o in parser.parse_overrides(extra):
                axes.append([f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
                            if o.is_sweep_override() else [o.input_line])
    return [list(c) for c in itertools.product(*axes)] if axes else [[]]


def _config(overrides: Sequence[str], where: str) -> list[Config]:
    """The validated config of every job (:func:`nasearch.api.config`). A search with a proxy needs
    ``proxy.n`` to run, not to be cited: without one, the proxy is cited as screening (N = 10)."""
    import nasearch.api as api

    out = []
    for combo in _combos(overrides):
        try:
            out.append(api.config(*combo))
        except ConfigError as exc:
            error = ConfigError(f"{exc} ({where})")
            if any(_key(o) == "proxy.n" for o in combo):
                raise error from None
            try:
                out.append(api.config(*combo, "proxy.n=10"))
            except ConfigError:
                raise error from None
    return out


def folder_overrides(folder: str | Path) -> list[list[str]]:
    """The overrides of a finished run folder (its ``.hydra/overrides.yaml``), or of every job of a
    multirun folder (``*/.hydra/overrides.yaml``), restricted to the keys that decide what it cites
    (file paths such as ``proxy.checkpoint`` are left out: they need not exist here)."""
    import yaml

    path = Path(folder)
    accepted = ("accepted: a folder a nasearch run wrote (holding .hydra/overrides.yaml), a multirun folder "
                "of such runs, or KEY=VALUE overrides")
    if not path.is_dir():
        raise ConfigError(f"run folder {str(folder)!r} does not exist or is not a folder; {accepted}")
    own = path / ".hydra" / "overrides.yaml"
    files = [own] if own.is_file() else sorted(path.glob("*/.hydra/overrides.yaml"))
    if not files:
        raise ConfigError(f"run folder {str(folder)!r} holds no .hydra/overrides.yaml (nor do its subfolders); "
                          f"{accepted}")
    out = []
    for f in files:
        try:
            data = yaml.safe_load(f.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"cannot read {str(f)!r}: {' '.join(str(exc).split())}; accepted: the list of "
                              "overrides Hydra writes there") from None
        data = [] if data is None else data
        if not isinstance(data, list) or not all(isinstance(o, str) for o in data):
            raise ConfigError(f"{str(f)!r} is not a list of overrides (got {type(data).__name__}); accepted: "
                              "the list of KEY=VALUE strings Hydra writes there")
        out.append([o for o in data if _key(o).split(".")[0] in _FOLDER_ROOTS and _key(o) not in _FOLDER_PATH_KEYS])
    return out


def configs(args: Sequence[str]) -> list[Config]:
    """The configs ``nasearch cite ARGS`` cites: KEY=VALUE overrides (sweeps expanded) and run folders
    (any argument without ``=``; their overrides come first, the command line's win)."""
    folders = [a for a in args if "=" not in a and not a.startswith("~")]
    overrides = [a for a in args if a not in folders]
    if not folders:
        where = "from the command line: " + (" ".join(overrides) or "defaults")
        return _config(overrides, where)
    out = []
    for folder in folders:
        for job in folder_overrides(folder):
            out.extend(_config([*job, *overrides], f"from run folder {folder!r}: {' '.join(job) or 'defaults'}"))
    return out


def bibtex_for(args: Sequence[str]) -> str:
    """What ``nasearch cite ARGS`` prints (see :func:`configs`)."""
    return bibtex(configs(args))


# ---------------------------------------------------------------------------------------- checks
def missing() -> list[str]:
    """Registered names (benchmarks, spaces, proxies, strategies) without a citation, and table keys
    without an entry: empty when the tables are complete (a test asserts it)."""
    from nasearch.benchmarks import BENCHMARKS as bench_names
    from nasearch.proxies import proxy_names
    from nasearch.space import space_names
    from nasearch.strategies import strategy_names

    out = [f"benchmark {n}" for n in bench_names if n not in BENCHMARKS]
    out += [f"space {n}" for n in space_names() if n not in BENCHMARKS]
    out += [f"proxy {n}" for n in proxy_names() if n not in PROXIES]
    out += [f"strategy {n}" for n in strategy_names() if n not in STRATEGIES]
    for kind, table in _TABLES.items():
        out += [f"{kind} {n}: key {k!r} has no entry" for n, ks in table.items() for k in ks if k not in BIBTEX]
    return out


def fields(entry: str) -> dict[str, str]:
    """The ``name = {value}`` fields of one of our entries (one field per line), for the tests."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^\s+(\w+)\s*=\s*\{(.*)\},?$", entry, re.M)}
