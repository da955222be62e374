"""``s3ta-evaluate square``: Square Attack beside PGD on the same test canvases, its numbers equal
to direct calls of the library on the same seeds, and the values it refuses."""

import json

import pytest
import torch

from model import AttackConfig, load_model, pgd
from model.checkpoint import DEFAULT_CHECKPOINT
from model.data import make_batch
from model.inference_form import inference_form
from model.square import SquareConfig, square_attack
from programs.evaluate import get_args_parser, main
from programs.seeds import eval_attack_seed


def test_square_cli_equals_the_library_on_the_same_canvases(tmp_path):
    out = tmp_path / "square.json"
    row = main(get_args_parser().parse_args(["square", "--n", "4", "--batch-size", "2", "--queries", "15",
                                             "--pgd-steps", "3", "--json", str(out)]))
    assert json.loads(out.read_text()) == json.loads(json.dumps(row))
    assert row["n"] == 4 and row["glances"] == 4 and row["p_init"] == 0.8 and row["eps_255"] == 16
    model = inference_form(load_model())
    sq_ok, pgd_ok, used = [], [], []
    for b, start in enumerate((0, 2)):
        x, y, _ = make_batch("test", range(start, start + 2), seed=0)
        seed = eval_attack_seed(0, b)
        sq = square_attack(model, x, y, SquareConfig(eps=16 / 255, queries=15), glances=4, seed=seed)
        pg = pgd(model, x, y, AttackConfig(eps=16 / 255, steps=3, target="untargeted"), glances=4, seed=seed)
        with torch.no_grad():
            sq_ok.append(model(sq.images, glances=4).logits.argmax(1) == y)
            pgd_ok.append(model(pg.images, glances=4).logits.argmax(1) == y)
        used.append(sq.queries)
    sq_ok, pgd_ok = torch.cat(sq_ok), torch.cat(pgd_ok)
    assert row["square_acc"] == pytest.approx(sq_ok.float().mean().item())
    assert row["pgd_acc"] == pytest.approx(pgd_ok.float().mean().item())
    assert row["both_acc"] == pytest.approx((sq_ok & pgd_ok).float().mean().item())
    assert row["fooled_by_square_only"] == int((~sq_ok & pgd_ok).sum())
    assert row["square_queries_mean"] == pytest.approx(torch.cat(used).float().mean().item())
    for name in ("square", "pgd", "both"):
        lo, hi = row[f"{name}_acc_95"]
        assert 0 <= lo <= row[f"{name}_acc"] <= hi <= 1


@pytest.mark.parametrize("argv,match", [
    (["--queries", "0"], "queries must be an integer in"),
    (["--eps", "300"], "--eps must be above 0"),
    (["--pgd-steps", "-1"], "steps must be an integer"),
    (["--checkpoint", str(DEFAULT_CHECKPOINT.parent / "photo_attention.safetensors")], "not a canvas task"),
])
def test_square_cli_refuses_what_it_cannot_measure(argv, match):
    with pytest.raises(SystemExit, match=match):
        main(get_args_parser().parse_args(["square", "--n", "2", *argv]))
