"""Checkpoint round trip, and refusal of files that are not our checkpoints."""

import json
import pickle

import pytest
import torch
from safetensors.torch import save_file

from model import (
    CheckpointError,
    ModelConfig,
    build_model,
    load_model,
    read_metadata,
    save_checkpoint,
)

NAMES = [f"c{i}" for i in range(10)]


@pytest.mark.parametrize("arch", ["s3ta", "baseline"])
def test_round_trip(tmp_path, arch):
    model = build_model(ModelConfig(arch=arch, heads=2, backbone_widths=(8, 16, 32)))
    with torch.no_grad():  # make BN statistics non-trivial
        model.train()(torch.rand(4, 3, 96, 96))
    model.eval()
    path = save_checkpoint(model, tmp_path / "m.safetensors", {"class_names": NAMES, "task": "t"})
    loaded = load_model(path)
    assert not loaded.training
    assert loaded.config == model.config
    assert loaded.metadata["class_names"] == NAMES
    assert json.loads((tmp_path / "m.json").read_text())["task"] == "t"
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    torch.testing.assert_close(a.logits, b.logits)
    torch.testing.assert_close(a.attention, b.attention)


def test_pickle_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    class Evil:
        def __reduce__(self):
            return (exec, ("open('PWNED', 'w').write('x')",))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="pickle"):
        load_model(path)
    torch.save({"w": torch.zeros(1)}, tmp_path / "tsave.pt")
    with pytest.raises(CheckpointError, match="pickle"):
        load_model(tmp_path / "tsave.pt")
    assert not (tmp_path / "PWNED").exists()


def test_wrong_files_get_clear_messages(tmp_path):
    (tmp_path / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_model(tmp_path / "junk.safetensors")
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "missing.safetensors")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(CheckpointError, match="no S3TA Lab metadata"):
        load_model(tmp_path / "plain.safetensors")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "badmeta.safetensors"), metadata={"s3ta": "{oops"})
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_metadata(tmp_path / "badmeta.safetensors")
    meta = {"config": {"heads": -1}, "class_names": NAMES}
    save_file({"w": torch.zeros(2)}, str(tmp_path / "badcfg.safetensors"), metadata={"s3ta": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="bad model config"):
        load_model(tmp_path / "badcfg.safetensors")


def test_config_and_weights_that_disagree(tmp_path):
    model = build_model(ModelConfig(heads=2))
    path = save_checkpoint(model, tmp_path / "m.safetensors", {"class_names": NAMES})
    tensors = {k: v for k, v in model.state_dict().items()}
    meta = read_metadata(path)
    meta["config"]["heads"] = 4  # the weights were made for 2 heads
    save_file(tensors, str(tmp_path / "lie.safetensors"), metadata={"s3ta": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="do not match its config"):
        load_model(tmp_path / "lie.safetensors")
    meta["config"]["heads"] = 2
    meta["class_names"] = NAMES[:3]
    save_file(tensors, str(tmp_path / "names.safetensors"), metadata={"s3ta": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="class_names"):
        load_model(tmp_path / "names.safetensors")


def test_a_config_asking_for_a_huge_model_is_refused_before_building_it(tmp_path):
    import time
    meta = {"config": ModelConfig(backbone="resnet152", image_size=224, backbone_widths=(2048, 4096, 8192, 8192),
                                  key_channels=4096, value_channels=4096, lstm_size=8192).to_dict(),
            "class_names": [str(i) for i in range(10)]}
    save_file({"w": torch.zeros(2)}, str(tmp_path / "huge.safetensors"), metadata={"s3ta": json.dumps(meta)})
    t = time.perf_counter()
    with pytest.raises(CheckpointError, match="do not match its config"):
        load_model(tmp_path / "huge.safetensors")  # tens of GB if it were built for real
    assert time.perf_counter() - t < 5


def test_integer_weights_where_floats_belong_are_refused(tmp_path):
    model = build_model(ModelConfig(heads=2))
    path = save_checkpoint(model, tmp_path / "m.safetensors", {"class_names": NAMES})
    tensors = {k: (v.to(torch.int32) if k.endswith("conv1.weight") else v) for k, v in model.state_dict().items()}
    save_file(tensors, str(tmp_path / "int.safetensors"), metadata={"s3ta": json.dumps(read_metadata(path))})
    with pytest.raises(CheckpointError, match="integer tensors"):
        load_model(tmp_path / "int.safetensors")


def test_metadata_of_the_wrong_kind(tmp_path):
    for bad in ([1, 2], {"config": "resnet", "class_names": NAMES}, {"config": {}, "class_names": "abc"}):
        save_file({"w": torch.zeros(2)}, str(tmp_path / "m.safetensors"), metadata={"s3ta": json.dumps(bad)})
        with pytest.raises(CheckpointError):
            load_model(tmp_path / "m.safetensors")


def test_saved_checkpoints_are_readable_by_the_group_and_others_under_the_usual_umask(tmp_path):
    import os
    model = build_model(ModelConfig(backbone_widths=(4, 8, 8), key_channels=4, value_channels=4, lstm_size=8,
                                    query_hidden=8, head_hidden=8, heads=1))
    old = os.umask(0o022)
    try:
        path = save_checkpoint(model, tmp_path / "m.safetensors", {"class_names": [str(i) for i in range(10)]})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
