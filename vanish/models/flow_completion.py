"""Recurrent flow completion network (clean-room re-implementation of ProPainter's RFC).

The network fills optical flow inside the holes of a clip before image propagation. It is a 3-D
convolutional encoder, a bidirectional second-order recurrent propagation with modulated
deformable convolutions at 1/8 resolution, and a 2-D decoder. Module names follow the published
checkpoint (`recurrent_flow_completion.pth`) so that it loads with `strict=True`.

Described in docs/architecture.md §5.3; no upstream code is reproduced.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vanish.models.ops import modulated_deform_conv

FEAT_CHANNELS = 128
DEFORM_GROUPS = 16
MAX_OFFSET = 5.0
SIZE_MULTIPLE = 8

Pair = tuple[torch.Tensor, torch.Tensor]


def _lrelu(slope: float) -> nn.LeakyReLU:
    """Out-of-place LeakyReLU: the spec requires a purely functional network."""
    return nn.LeakyReLU(slope)


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    """The 3x3, stride-1, zero-padded convolution used throughout the 2-D parts."""
    return nn.Conv2d(in_channels, out_channels, 3, 1, 1)


class _P3DBlock(nn.Module):
    """Pseudo-3-D block: a spatial (1,3,3) conv, then a temporal (3,1,1) conv with dilation 2.

    Splitting space and time keeps the parameter count low; no residual connection (the option is
    off in every block of the checkpoint).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.Conv3d(in_channels, out_channels, (1, 3, 3), (1, stride, stride), (0, 1, 1)),
            _lrelu(0.2),
        )
        self.conv2 = nn.Sequential(
            nn.Conv3d(out_channels, out_channels, (3, 1, 1), 1, (2, 0, 0), dilation=(2, 1, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, Cin, N, y, x) to (B, Cout, N, y/s, x/s)."""
        return self.conv2(self.conv1(x))


class _UpConv(nn.Module):
    """Bilinear x2 upsampling (align_corners=True) followed by a 3x3 conv."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = _conv3x3(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Double the spatial size, then convolve."""
        height, width = x.shape[-2:]
        up = F.interpolate(x, size=(2 * height, 2 * width), mode="bilinear", align_corners=True)
        return self.conv(up)


class _SecondOrderDeformAlign(nn.Module):
    """Modulated deformable conv aligning the two previous states onto the current step.

    Offsets and modulation are predicted from [p1 ; current ; p2]; no flow guides them (unlike the
    generator), so the offsets are bounded to MAX_OFFSET pixels by a scaled tanh.
    """

    def __init__(self, channels: int = FEAT_CHANNELS) -> None:
        super().__init__()
        in_channels = 2 * channels
        self.weight = nn.Parameter(torch.empty(channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.conv_offset = nn.Sequential(
            _conv3x3(3 * channels, channels),
            _lrelu(0.1),
            _conv3x3(channels, channels),
            _lrelu(0.1),
            _conv3x3(channels, channels),
            _lrelu(0.1),
            _conv3x3(channels, 3 * 9 * DEFORM_GROUPS),
        )
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Conv-like weight init and a zero offset head, so an untrained module is a plain conv."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        last = self.conv_offset[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, previous: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Align `previous` = [p1 ; p2] (2C ch) using `condition` = [p1 ; c ; p2] (3C ch)."""
        out = self.conv_offset(condition)
        offset_1, offset_2, modulation = torch.chunk(out, 3, dim=1)
        offset = MAX_OFFSET * torch.tanh(torch.cat((offset_1, offset_2), dim=1))
        return modulated_deform_conv(
            previous, offset, self.weight, self.bias, torch.sigmoid(modulation), padding=1
        )


class _BidirectionalPropagation(nn.Module):
    """Second-order recurrent propagation over time, backward sweep first, then forward.

    Each sweep carries a state that is aligned from the two previous outputs of the same sweep
    and refined by a small backbone; the forward sweep also sees the backward sweep's output.
    """

    def __init__(self, channels: int = FEAT_CHANNELS) -> None:
        super().__init__()
        self.deform_align = nn.ModuleDict(
            {name: _SecondOrderDeformAlign(channels) for name in ("backward_", "forward_")}
        )
        self.backbone = nn.ModuleDict(
            {
                "backward_": self._backbone(2 * channels, channels),
                "forward_": self._backbone(3 * channels, channels),
            }
        )
        self.fusion = nn.Conv2d(2 * channels, channels, 1, 1, 0)

    @staticmethod
    def _backbone(in_channels: int, channels: int) -> nn.Sequential:
        """Residual refinement branch: conv, LReLU(0.1), conv."""
        return nn.Sequential(
            _conv3x3(in_channels, channels), _lrelu(0.1), _conv3x3(channels, channels)
        )

    def _sweep(
        self, x: torch.Tensor, backward_feats: list[torch.Tensor] | None
    ) -> list[torch.Tensor]:
        """Run one sweep over x (B, N, C, h, w); returns outputs in chronological order.

        `backward_feats` is None for the backward sweep (processed from the last step to the
        first); for the forward sweep it holds the backward outputs, fed to the backbone.
        """
        name = "backward_" if backward_feats is None else "forward_"
        steps = x.shape[1]
        order = range(steps - 1, -1, -1) if backward_feats is None else range(steps)
        zeros = x.new_zeros(x[:, 0].shape)
        state = zeros
        history: list[torch.Tensor] = []
        for index, step in enumerate(order):
            current = x[:, step]
            if index >= 1:
                second = history[-2] if index >= 2 else zeros
                condition = torch.cat((state, current, second), dim=1)
                state = self.deform_align[name](torch.cat((state, second), dim=1), condition)
            extra = [] if backward_feats is None else [backward_feats[step]]
            state = state + self.backbone[name](torch.cat([current, *extra, state], dim=1))
            history.append(state)
        return history[::-1] if backward_feats is None else history

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Propagate (B, N, C, h, w) features; returns fused features of the same shape."""
        batch, steps, channels, height, width = x.shape
        backward = self._sweep(x, None)
        forward = self._sweep(x, backward)
        fused_in = torch.stack(
            [torch.cat((back, fwd), dim=1) for back, fwd in zip(backward, forward, strict=True)],
            dim=1,
        )
        fused = self.fusion(fused_in.reshape(batch * steps, 2 * channels, height, width))
        return fused.reshape(batch, steps, channels, height, width) + x


class _EdgeDetector(nn.Module):
    """Flow-edge head used as an auxiliary training loss; never run in eval mode."""

    def __init__(self, in_channels: int = 2, mid_channels: int = 16) -> None:
        super().__init__()
        self.projection = nn.Sequential(_conv3x3(in_channels, mid_channels), _lrelu(0.2))
        self.mid_layer_1 = nn.Sequential(_conv3x3(mid_channels, mid_channels), _lrelu(0.2))
        self.mid_layer_2 = nn.Sequential(_conv3x3(mid_channels, mid_channels))
        self.out_layer = nn.Conv2d(mid_channels, 1, 1, 1, 0)

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        """Edge probability (n, 1, H, W) of a flow (n, 2, H, W)."""
        projected = self.projection(flow)
        hidden = F.leaky_relu(projected + self.mid_layer_2(self.mid_layer_1(projected)), 0.01)
        return torch.sigmoid(self.out_layer(hidden))


class RecurrentFlowCompleteNet(nn.Module):
    """Completes masked optical flow over a window of N flows (docs/architecture.md §5.3)."""

    def __init__(self) -> None:
        super().__init__()
        self.downsample = nn.Sequential(
            nn.Conv3d(3, 32, (1, 5, 5), (1, 2, 2), (0, 2, 2), padding_mode="replicate"),
            _lrelu(0.2),
        )
        self.encoder1 = nn.Sequential(
            _P3DBlock(32, 32, 1), _lrelu(0.2), _P3DBlock(32, 64, 2), _lrelu(0.2)
        )
        self.encoder2 = nn.Sequential(
            _P3DBlock(64, 64, 1), _lrelu(0.2), _P3DBlock(64, 128, 2), _lrelu(0.2)
        )
        self.mid_dilation = nn.Sequential(
            *[
                layer
                for dilation in (3, 2, 1)
                for layer in (self._dilated_conv(FEAT_CHANNELS, dilation), _lrelu(0.2))
            ]
        )
        self.feat_prop_module = _BidirectionalPropagation(FEAT_CHANNELS)
        self.decoder2 = nn.Sequential(
            _conv3x3(128, 128), _lrelu(0.2), _UpConv(128, 64), _lrelu(0.2)
        )
        self.decoder1 = nn.Sequential(_conv3x3(64, 64), _lrelu(0.2), _UpConv(64, 32), _lrelu(0.2))
        self.upsample = nn.Sequential(_conv3x3(32, 32), _lrelu(0.2), _UpConv(32, 2))
        self.edgeDetector = _EdgeDetector()  # camelCase: checkpoint key name

    @staticmethod
    def _dilated_conv(channels: int, dilation: int) -> nn.Conv3d:
        """Spatially dilated (1,3,3) conv that widens the bottleneck's receptive field."""
        spatial = (0, dilation, dilation)
        return nn.Conv3d(
            channels, channels, (1, 3, 3), 1, spatial, dilation=(1, dilation, dilation)
        )

    def forward(
        self, flows: torch.Tensor, masks: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predict flows (B, N, 2, H, W) from masked flows and their masks (B, N, 1, H, W).

        The prediction covers every pixel; callers keep it only inside holes (`combine_flow`).
        Returns (prediction, edges), edges (B, N, 1, H, W) in training mode and None in eval.
        """
        batch, steps, _, height, width = flows.shape
        if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
            raise ValueError(f"flow size {height}x{width} must be a multiple of {SIZE_MULTIPLE}")
        x = torch.cat((flows, masks), dim=2).permute(0, 2, 1, 3, 4)
        skip = self.encoder1(self.downsample(x))
        bottleneck = self.mid_dilation(self.encoder2(skip))
        feats = self.feat_prop_module(bottleneck.permute(0, 2, 1, 3, 4))
        pred = self._decode(_merge_time(feats), _merge_time(skip.permute(0, 2, 1, 3, 4)))
        edges = self.edgeDetector(pred) if self.training else None
        pred = pred.reshape(batch, steps, 2, height, width)
        if edges is not None:
            edges = edges.reshape(batch, steps, 1, height, width)
        return pred, edges

    def _decode(self, feats: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Decode (B*N, 128, H/8, W/8) features to full-resolution flow, with the 1/4 skip."""
        return self.upsample(self.decoder1(self.decoder2(feats) + skip))

    def forward_bidirect_flow(
        self, masked_flows_bi: Pair, masks: torch.Tensor
    ) -> tuple[Pair, tuple[torch.Tensor | None, torch.Tensor | None]]:
        """Complete forward and backward flows (B, N, 2, H, W) given frame masks (B, N+1, 1, H, W).

        Each flow is paired with the mask of its source frame (forward: frames 0..N-1, backward:
        1..N) and zeroed inside it. The backward sequence runs through the same network reversed
        in time, so that it too flows "forward" from the network's point of view.
        """
        flows_fwd, flows_bwd = masked_flows_bi
        masks_fwd, masks_bwd = _flow_masks(masks)
        pred_fwd, edges_fwd = self(flows_fwd * (1 - masks_fwd), masks_fwd)
        reversed_bwd = torch.flip(flows_bwd * (1 - masks_bwd), dims=(1,))
        pred_bwd, edges_bwd = self(reversed_bwd, torch.flip(masks_bwd, dims=(1,)))
        pred_bwd = torch.flip(pred_bwd, dims=(1,))
        if edges_bwd is not None:
            edges_bwd = torch.flip(edges_bwd, dims=(1,))
        return (pred_fwd, pred_bwd), (edges_fwd, edges_bwd)

    def combine_flow(self, masked_flows_bi: Pair, pred_flows_bi: Pair, masks: torch.Tensor) -> Pair:
        """Completed flows: prediction inside each flow's source-frame hole, input outside."""
        masks_fwd, masks_bwd = _flow_masks(masks)
        return (
            _composite(pred_flows_bi[0], masked_flows_bi[0], masks_fwd),
            _composite(pred_flows_bi[1], masked_flows_bi[1], masks_bwd),
        )


def _merge_time(x: torch.Tensor) -> torch.Tensor:
    """(B, N, C, y, x) -> (B*N, C, y, x), batch-major then time, for frame-wise 2-D layers."""
    return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])


def _flow_masks(masks: torch.Tensor) -> Pair:
    """Masks of the source frames: frame k for forward flow k, frame k+1 for backward flow k."""
    return masks[:, :-1], masks[:, 1:]


def _composite(pred: torch.Tensor, flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """pred inside the hole (mask 1), flow outside (mask 0)."""
    return pred * mask + flow * (1 - mask)
