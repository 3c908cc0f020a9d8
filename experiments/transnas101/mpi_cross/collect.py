"""One table of the per-proxy TransNAS-Bench-101 studies of this folder (issue 37's cross-space
columns): Spearman rho / Kendall tau of each proxy's class_scene-network score against each task's
final validation metric over the 1,000 seeded networks, with the images and batch each study used
(read from its Hydra overrides) and its recorded compute per network.

    .venv/bin/python experiments/transnas101/mpi_cross/collect.py    # writes summary.md and prints it
"""

from __future__ import annotations

import csv
from pathlib import Path

from omegaconf import OmegaConf

HERE = Path(__file__).resolve().parent
TASKS = ("class_scene", "class_object", "room_layout", "jigsaw", "segmentsemantic", "normal", "autoencoder")


def main() -> None:
    lines = ["| space | proxy | images, batch | " + " | ".join(TASKS) + " | s/network |",
             "|---|---|---|" + "---|" * len(TASKS) + "---|"]
    for space in ("micro", "macro"):
        for mpi in sorted((HERE / space).glob("*/mpi.csv")):
            folder = mpi.parent
            o = dict(str(x).split("=", 1) for x in OmegaConf.to_container(OmegaConf.load(folder / ".hydra" / "overrides.yaml")))
            with open(mpi, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if r["metric"].startswith("valid")]
            by = {r["target_dataset"]: r for r in rows}
            images = "CIFAR-10 at 256 px" if o["proxy.image_dataset"] == "cifar10" else "none (data-free)"
            lines.append(f"| {space} | {folder.name} | {images}, {o['proxy.batch_size']} | "
                         + " | ".join(f"{float(by[t]['spearman']):.3f} / {float(by[t]['kendall']):.3f}" for t in TASKS)
                         + f" | {float(rows[0]['seconds_per_cell']):.2f} |")
    text = ("Spearman rho / Kendall tau over 1,000 seeded networks (`sample_cells(1000, seed=0)`), the class_scene "
            "network's score against each task; s/network: recorded compute on this 2-core machine shared "
            "with another job (not a benchmark).\n\n" + "\n".join(lines) + "\n")
    (HERE / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
