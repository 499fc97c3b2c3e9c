"""The model registry and the five models: shapes, gradients, initialisation, the architectural
properties the chapter relies on (DeciWatch watches frames 0 and 4 only; the ConvLSTMs see both ways)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from posedenoise.errors import PoseDenoiseError
from posedenoise.heatmaps import argmax, render
from posedenoise.models import (
    count_parameters,
    create_model,
    init_weights,
    list_models,
    model_info,
    model_summaries,
    predict_coords,
    predict_heatmaps,
    study_models,
)

B, T, K, S = 2, 5, 25, 56


def noisy_heatmaps(seed: int = 0, batch: int = B, size: int = S) -> torch.Tensor:
    """Rendered heatmaps of random joints, as the pipeline feeds the models: (batch, T, K, size, size)."""
    g = torch.Generator().manual_seed(seed)
    coords = torch.rand(batch, T, K, 2, generator=g) * (size - 1)
    present = torch.rand(batch, T, K, generator=g) > 0.1
    return render(coords, present, 1.5, size=size)


def test_registry_names_and_summaries():
    assert list_models() == ["conv3d", "convlstm-c", "convlstm-s", "deciwatch", "identity", "posetcn"]
    assert list_models(input="tracks") == ["posetcn"]
    assert study_models() == ("conv3d", "deciwatch", "convlstm-s", "convlstm-c")  # the tables' order
    summaries = {s.name: s for s in model_summaries()}
    assert {n: s.display_name for n, s in summaries.items()} == {
        "conv3d": "3DConv",
        "convlstm-c": "bi-ConvLSTM Model C",
        "convlstm-s": "bi-ConvLSTM Model S",
        "deciwatch": "DeciWatch",
        "identity": "Identity function",
        "posetcn": "PoseTCN (real tracks)",
    }
    coords = {"deciwatch", "posetcn"}
    assert all(summaries[n].output_kind == "coords" for n in coords)
    assert all(s.output_kind == "heatmaps" for n, s in summaries.items() if n not in coords)
    for name, summary in summaries.items():
        assert summary.num_params == count_parameters(create_model(name))
    assert summaries["identity"].num_params == 0


def test_model_info_does_not_move_the_global_rng():
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    model_info("conv3d")
    assert torch.equal(torch.rand(3), expected)


def test_conv3d_has_the_chapters_parameter_count():
    assert count_parameters(create_model("conv3d")) == 78_150  # 25 * 25 * 5**3 + 25


@pytest.mark.parametrize("name", list_models(input="windows"))
def test_forward_backward_and_seeded_creation(name):
    torch.manual_seed(0)
    model = create_model(name)
    torch.manual_seed(0)
    twin = create_model(name)
    for (key, a), b in zip(model.state_dict().items(), twin.state_dict().values(), strict=True):
        assert torch.equal(a, b), key  # same seed, same weights
    assert dataclasses.is_dataclass(model.config)
    assert model.output_kind in ("heatmaps", "coords")

    x = noisy_heatmaps()
    model.train()
    y = model(x)
    expected = (B, T, K, S, S) if model.output_kind == "heatmaps" else (B, T, K, 2)
    assert y.shape == expected and y.dtype == torch.float32
    assert torch.isfinite(y).all()
    if name == "identity":
        assert torch.equal(y, x) and count_parameters(model) == 0
        return
    y.square().mean().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        if p.dim() > 1:
            assert p.grad.abs().sum() > 0, pname  # every weight tensor takes part in the output


def test_options_from_config_rebuild_the_same_architecture():
    for name in list_models():
        model = create_model(name)
        rebuilt = create_model(name, **dataclasses.asdict(model.config))
        shapes = {k: v.shape for k, v in model.state_dict().items()}
        assert shapes == {k: v.shape for k, v in rebuilt.state_dict().items()}


def _glorot_chunks(module_name: str, module: nn.Module) -> int:
    if isinstance(module, nn.MultiheadAttention):
        return 3  # query, key, value
    if module_name.endswith(("input_conv", "hidden_conv")):
        return 4  # the ConvLSTM's gates i, f, c, o
    return 1


@pytest.mark.parametrize("name", ["conv3d", "deciwatch", "convlstm-s", "convlstm-c"])
def test_weights_are_glorot_uniform_and_biases_zero(name):
    torch.manual_seed(0)
    model = create_model(name)
    checked = 0
    for mname, m in model.named_modules():
        if isinstance(m, nn.MultiheadAttention):
            weight, bias = m.in_proj_weight, m.in_proj_bias
        elif isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            weight, bias = m.weight, m.bias
        else:
            continue
        if bias is not None:
            assert torch.count_nonzero(bias) == 0, mname
        for chunk in weight.detach().chunk(_glorot_chunks(mname, m), dim=0):
            receptive = math.prod(chunk.shape[2:])
            fan_in, fan_out = chunk.shape[1] * receptive, chunk.shape[0] * receptive
            bound = math.sqrt(6 / (fan_in + fan_out))
            assert chunk.abs().max() <= bound, mname
            # U(-a, a) fills its range and has standard deviation a / sqrt(3)
            assert chunk.abs().max() > 0.9 * bound, mname
            assert chunk.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.15), mname
            checked += 1
    assert checked > 0
    for pname, p in model.named_parameters():
        if pname.endswith("peephole"):  # elementwise weights: fans = hidden channels
            bound = math.sqrt(3 / model.config.hidden)
            assert p.abs().max() <= bound and p.abs().max() > 0.9 * bound


def test_init_weights_refuses_parameters_it_has_no_rule_for():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(3))

    with pytest.raises(TypeError, match="scale"):
        init_weights(Odd())


def test_create_model_rejects_unknown_names_and_options():
    with pytest.raises(PoseDenoiseError) as err:
        create_model("unet")
    message = str(err.value)
    assert "unet" in message and "\n" not in message
    assert all(name in message for name in list_models())

    with pytest.raises(PoseDenoiseError) as err:
        create_model("deciwatch", layers=3)
    message = str(err.value)
    assert "layers" in message and "\n" not in message
    assert all(opt in message for opt in ("interval", "embed_dim", "heads", "encoder_layers", "dropout"))

    with pytest.raises(PoseDenoiseError, match="valid options: none"):
        create_model("identity", size=56)
    with pytest.raises(PoseDenoiseError):
        create_model("conv3d", kernel_size=4)  # even: no "same" padding
    with pytest.raises(PoseDenoiseError):
        create_model("deciwatch", embed_dim=130, heads=4)


def test_options_change_the_architecture():
    small = create_model("deciwatch", embed_dim=32, heads=2, encoder_layers=1, decoder_layers=2, ffn=64)
    assert len(small.encoder) == 1 and len(small.decoder) == 2 and small.encoder_embed.out_features == 32
    assert create_model("conv3d", kernel_size=3).conv.kernel_size == (3, 3, 3)


def test_deciwatch_watches_only_frames_0_and_4():
    torch.manual_seed(0)
    model = create_model("deciwatch").eval()
    x = noisy_heatmaps(seed=1)
    other = noisy_heatmaps(seed=2)
    with torch.no_grad():
        y = model(x)
        x_hidden = x.clone()
        x_hidden[:, 1:4] = other[:, 1:4]
        assert torch.equal(model(x_hidden), y)  # frames 1-3 are never looked at
        x_seen = x.clone()
        x_seen[:, 4] = other[:, 4]
        assert not torch.allclose(model(x_seen), y)  # frame 4 is


def test_deciwatch_on_coordinates_equals_deciwatch_on_heatmaps():
    torch.manual_seed(0)
    model = create_model("deciwatch").eval()
    x = noisy_heatmaps(seed=3)
    with torch.no_grad():
        assert torch.equal(model(x), model.forward_coords(argmax(x), size=S))


def test_deciwatch_rejects_a_window_the_interval_does_not_fit():
    model = create_model("deciwatch", interval=3).eval()
    with pytest.raises(PoseDenoiseError, match="interval"):
        model(noisy_heatmaps())


@pytest.mark.parametrize("name", ["convlstm-s", "convlstm-c"])
def test_convlstm_is_bidirectional(name):
    torch.manual_seed(0)
    model = create_model(name, size=16, head_channels=8).eval()
    x = noisy_heatmaps(seed=4, batch=1, size=16)
    other = noisy_heatmaps(seed=5, batch=1, size=16)
    with torch.no_grad():
        y = model(x)
        last_changed, first_changed = x.clone(), x.clone()
        last_changed[:, 4] = other[:, 4]
        first_changed[:, 0] = other[:, 0]
        assert not torch.allclose(model(last_changed)[:, 0], y[:, 0])  # frame 0 sees frame 4
        assert not torch.allclose(model(first_changed)[:, 4], y[:, 4])  # frame 4 sees frame 0


@pytest.mark.parametrize("name", list_models(input="windows"))
def test_bf16_autocast_forward_on_cpu(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    x = noisy_heatmaps(seed=6)
    with torch.no_grad():
        reference = model(x).float()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = model(x)
    assert y.shape == reference.shape and torch.isfinite(y).all()
    error = (y.float() - reference).norm() / reference.norm().clamp(min=1e-6)
    assert error < 0.05


def test_predict_coords_and_heatmaps_from_either_kind_of_model():
    torch.manual_seed(0)
    x = noisy_heatmaps(seed=7)
    identity = create_model("identity")
    assert torch.equal(predict_coords(identity, x), argmax(x))
    assert torch.equal(predict_heatmaps(identity, x), x)

    deciwatch = create_model("deciwatch").eval()
    with torch.no_grad():
        coords = predict_coords(deciwatch, x)
        heatmaps = predict_heatmaps(deciwatch, x, sigma_out=1.0)
    assert coords.shape == (B, T, K, 2) and heatmaps.shape == x.shape
    # every joint is drawn, at the model's coordinates rounded into the grid
    assert torch.equal(argmax(heatmaps), coords.round().clamp(0, S - 1))
    assert (heatmaps.flatten(-2).amax(-1) > 0).all()


def _reference_bi_convlstm(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The chapter's bi-ConvLSTM written out plainly in float64 (one frame and one gate at a time,
    contiguous layout, no fused or in-place operations) with `model`'s weights: what the fast paths
    (fused gate convolutions, channels-last heads, in-place ReLU, unbind) must reproduce."""
    import torch.nn.functional as F

    def run_lstm(lstm, frames):  # frames: list of (B, K, H, W)
        cell = lstm.cell
        n = cell.hidden
        w_x, b_x = cell.input_conv.weight.double(), cell.input_conv.bias.double()
        w_h = cell.hidden_conv.weight.double()
        w_ci, w_cf, w_co = cell.peephole.double()
        pad = w_x.shape[-1] // 2
        h = torch.zeros(frames[0].shape[0], n, *frames[0].shape[2:], dtype=torch.float64)
        c = torch.zeros_like(h)
        out = [None] * len(frames)
        order = reversed(range(len(frames))) if lstm.reverse else range(len(frames))
        for t in order:
            gate = [
                F.conv2d(frames[t], w_x[j * n : (j + 1) * n], b_x[j * n : (j + 1) * n], padding=pad)
                + F.conv2d(h, w_h[j * n : (j + 1) * n], padding=pad)
                for j in range(4)
            ]
            i = torch.sigmoid(gate[0] + w_ci * c)
            f = torch.sigmoid(gate[1] + w_cf * c)
            c = f * c + i * torch.tanh(gate[2])
            o = torch.sigmoid(gate[3] + w_co * c)
            h = o * torch.tanh(c)
            out[t] = h
        return out

    def run_convs(seq, frame):  # an nn.Sequential of Conv2d / ReLU
        for layer in seq:
            if isinstance(layer, nn.Conv2d):
                frame = F.conv2d(frame, layer.weight.double(), layer.bias.double(), padding=layer.padding)
            else:
                frame = torch.relu(frame)
        return frame

    frames = [x[:, t].double() for t in range(x.shape[1])]
    h_fwd, h_bwd = run_lstm(model.forward_lstm, frames), run_lstm(model.backward_lstm, frames)
    if hasattr(model, "fuse"):  # Model C
        out = [
            run_convs(
                model.fuse,
                torch.cat([run_convs(model.forward_branch, f), run_convs(model.backward_branch, b)], 1),
            )
            for f, b in zip(h_fwd, h_bwd, strict=True)
        ]
    else:  # Model S
        out = [
            run_convs(model.forward_head, f) + run_convs(model.backward_head, b)
            for f, b in zip(h_fwd, h_bwd, strict=True)
        ]
    return torch.stack(out, dim=1)  # (B, T, K, H, W)


@pytest.mark.parametrize("name", ["convlstm-s", "convlstm-c"])
def test_convlstm_fast_paths_equal_a_plain_reference(name):
    torch.manual_seed(0)
    model = create_model(name, size=16, head_channels=16).train()
    x = noisy_heatmaps(seed=8, batch=2, size=16)
    target = noisy_heatmaps(seed=9, batch=2, size=16)
    y = model(x)
    assert y.is_contiguous()
    reference = _reference_bi_convlstm(model, x)
    torch.testing.assert_close(y.double(), reference, rtol=1e-4, atol=1e-4 * reference.abs().max().item())
    # gradients of every weight: the fast backward (one stack for the gates, in-place ReLU) is the same
    ((y - target) ** 2).mean().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    ((reference - target.double()) ** 2).mean().backward()
    for n, p in model.named_parameters():
        # float32 against float64: a ReLU whose input is within rounding of 0 may gate differently
        error = (grads[n].double() - p.grad.double()).norm() / p.grad.double().norm().clamp(min=1e-12)
        assert error < 1e-3, n


@pytest.mark.parametrize("name", ["conv3d", "convlstm-s", "convlstm-c"])
def test_inference_in_chunks_equals_one_pass(name):
    from posedenoise.models.inference import INFERENCE_CHUNK

    torch.manual_seed(0)
    options = {} if name == "conv3d" else {"size": 16, "head_channels": 8}
    model = create_model(name, **options).eval()
    x = noisy_heatmaps(seed=10, batch=2 * INFERENCE_CHUNK + 3, size=16)
    with torch.no_grad():
        chunked = model(x)  # autograd off: run INFERENCE_CHUNK windows at a time
    whole = model(x).detach()  # autograd on: one pass over the whole batch
    assert chunked.shape == whole.shape
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-5 * whole.abs().max().item())


def test_inference_is_chunked_only_without_autograd_on_the_cpu():
    from posedenoise.models.inference import INFERENCE_CHUNK, chunked_inference

    sizes = []

    def forward(x):
        sizes.append(len(x))
        return x * 2

    x = torch.ones(2 * INFERENCE_CHUNK + 1, 3)
    with torch.no_grad():
        assert torch.equal(chunked_inference(forward, x), x * 2)
        assert sizes == [INFERENCE_CHUNK, INFERENCE_CHUNK, 1]
        sizes.clear()
        chunked_inference(forward, x.to("meta"))  # another device (a GPU): the batch runs whole
        assert sizes == [len(x)]
    sizes.clear()
    chunked_inference(forward, x)  # autograd on: training runs the batch whole
    assert sizes == [len(x)]


@pytest.mark.parametrize("name", ["convlstm-s", "convlstm-c"])
@pytest.mark.parametrize("final_relu", [True, False])
def test_final_relu_false_keeps_a_joint_whose_last_preactivation_turned_negative_alive(name, final_relu):
    # the thesis ends both models with a ReLU: once a joint's last pre-activation is negative everywhere its
    # map is all zero (argmax in the corner) and no gradient reaches it again; `final_relu=false` removes it
    torch.manual_seed(0)
    model = create_model(name, size=16, head_channels=8, final_relu=final_relu)
    assert isinstance(list(model.modules())[-1], nn.ReLU) is final_relu
    last_convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.out_channels == K]
    assert len(last_convs) == (2 if name == "convlstm-s" else 1)  # S sums two heads
    joint = 7  # left wrist
    with torch.no_grad():
        for conv in last_convs:
            conv.bias[joint] = -100.0
    y = model(noisy_heatmaps(seed=3, batch=1, size=16))  # (1, T, K, 16, 16)
    y.square().mean().backward()
    grads = torch.stack([conv.weight.grad[joint].abs().sum() for conv in last_convs])
    assert bool((y[:, :, joint] == 0).all()) is final_relu
    assert bool((grads == 0).all()) is final_relu
