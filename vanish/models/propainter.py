"""ProPainter's inpainting generator, re-implemented from our clean-room specification.

The module reproduces the published network's state-dict layout (`propainter_inpaint_generator.tsv`)
so the official checkpoint loads strictly, and its eval-mode arithmetic so outputs match the
reference to float32 round-off. Structure: a frame-wise convolutional encoder, learnable
flow-guided feature propagation (deformable alignment), soft split into overlapping tokens, eight
mask-guided sparse window transformer blocks, soft composition back to features and a decoder.
Image propagation (weight-free) lives in `vanish.models.propagation` and is only delegated to.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vanish.models.ops import modulated_deform_conv
from vanish.models.propagation import fb_consistency, image_propagation, warp

FEAT_CHANNELS = 128
TOKEN_DIM = 512
NUM_HEADS = 4
WINDOW = (5, 9)
EXPAND = (3, 5)
POOL = (4, 4)
PATCH = {"kernel_size": 7, "stride": 3, "padding": 3}
FFN_HIDDEN = 1960
NUM_BLOCKS = 8
DCN_GROUPS = 16
MAX_RESIDUE = 3.0


def _lrelu(slope: float) -> nn.LeakyReLU:
    return nn.LeakyReLU(slope)


def _conv3(cin: int, cout: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups)


def _up2(x: torch.Tensor) -> torch.Tensor:
    """Bilinear ×2 with align_corners=True, the resampling used by the reference decoder."""
    size = (2 * x.shape[-2], 2 * x.shape[-1])
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class UpConv(nn.Module):
    """Up2 followed by a 3×3 conv; a module of its own so the weights sit under `.conv`."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = _conv3(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(_up2(x))


# --------------------------------------------------------------------------------------------
# Encoder


class Encoder(nn.Module):
    """Frame-wise encoder to 1/4 resolution with the grouped-channel skip of the reference.

    After conv 6 the 256-channel map X0 is kept; every later conv sees X0 and the previous output
    interleaved group by group ([X0_j ; A_j] per group j), so a grouped conv mixes each X0 chunk
    only with its own chunk of the previous activations.
    """

    # (in, out, stride, groups) of convs 0, 2, …, 16; convs 10-16 see Ilv(X0, previous, groups).
    SPECS = (
        (5, 64, 2, 1),
        (64, 64, 1, 1),
        (64, 128, 2, 1),
        (128, 256, 1, 1),
        (256, 384, 1, 1),
        (640, 512, 1, 2),
        (768, 384, 1, 4),
        (640, 256, 1, 8),
        (512, 128, 1, 1),
    )
    STEM = 4  # convs applied plainly before X0 is formed

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin, cout, stride, groups in self.SPECS:
            layers += [_conv3(cin, cout, stride, groups), _lrelu(0.2)]
        self.layers = nn.ModuleList(layers)

    def _block(self, index: int, x: torch.Tensor) -> torch.Tensor:
        return self.layers[2 * index + 1](self.layers[2 * index](x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (n, 5, H, W) → (n, 128, H/4, W/4)."""
        for index in range(self.STEM):
            x = self._block(index, x)
        x0 = x
        out = self._block(self.STEM, x0)
        for index in range(self.STEM + 1, len(self.SPECS)):
            out = self._block(index, _interleave(x0, out, self.SPECS[index][3]))
        return out


def _interleave(x0: torch.Tensor, a: torch.Tensor, groups: int) -> torch.Tensor:
    """[X0_0 ; A_0 ; X0_1 ; A_1 ; …]: consecutive channel chunks of both, group by group."""
    n, _, h, w = x0.shape
    parts = (x0.view(n, groups, -1, h, w), a.view(n, groups, -1, h, w))
    return torch.cat(parts, dim=2).view(n, -1, h, w)


# --------------------------------------------------------------------------------------------
# Flow-guided feature propagation


class DeformableAlignment(nn.Module):
    """Flow-guided modulated deformable conv: residual offsets (3·tanh) around the flow.

    The DCN samples the previous (unwarped) state; the warped state, flow, validity and masks only
    condition the offset/modulation head.
    """

    def __init__(self, channels: int = FEAT_CHANNELS, cond_channels: int = 261) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(channels, channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(channels))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        taps = 3 * DCN_GROUPS * 9
        self.conv_offset = nn.Sequential(
            _conv3(cond_channels, channels),
            _lrelu(0.1),
            _conv3(channels, channels),
            _lrelu(0.1),
            _conv3(channels, channels),
            _lrelu(0.1),
            _conv3(channels, taps),
        )

    def forward(self, x: torch.Tensor, cond: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        o1, o2, modulation = torch.chunk(self.conv_offset(cond), 3, dim=1)
        offset = MAX_RESIDUE * torch.tanh(torch.cat((o1, o2), dim=1))
        # DCN offsets are (Δy, Δx) per tap: tile the flow with its channels swapped to (v, u).
        offset = offset + flow.flip(1).repeat(1, offset.shape[1] // 2, 1, 1)
        return modulated_deform_conv(
            x, offset, self.weight, self.bias, torch.sigmoid(modulation), padding=1
        )


def _refine_net(cin: int, channels: int = FEAT_CHANNELS) -> nn.Sequential:
    return nn.Sequential(_conv3(cin, channels), _lrelu(0.2), _conv3(channels, channels))


class FeaturePropagation(nn.Module):
    """Learnable bidirectional propagation of encoder features along the completed flows."""

    SWEEPS = ("backward_1", "forward_1")

    def __init__(self, channels: int = FEAT_CHANNELS, mask_channels: int = 2) -> None:
        super().__init__()
        cond = 2 * channels + 2 + 1 + mask_channels
        self.deform_align = nn.ModuleDict(
            {s: DeformableAlignment(channels, cond) for s in self.SWEEPS}
        )
        refine_in = 2 * channels + mask_channels
        self.backbone = nn.ModuleDict({s: _refine_net(refine_in, channels) for s in self.SWEEPS})
        self.fuse = _refine_net(refine_in, channels)

    def _sweep(
        self,
        name: str,
        feats: list[torch.Tensor],
        masks: list[torch.Tensor],
        flows_prop: torch.Tensor,
        flows_check: torch.Tensor,
        interpolation: str,
    ) -> list[torch.Tensor]:
        """One sweep; the backward one pulls from k+1 via flows_prop[k], the forward one from k−1
        via flows_prop[k−1]. Results are returned in chronological order."""
        backward = name.startswith("backward")
        count = len(feats)
        order = range(count - 1, -1, -1) if backward else range(count)
        align, refine = self.deform_align[name], self.backbone[name]
        outputs: list[torch.Tensor] = list(feats)
        prev: torch.Tensor | None = None
        for k in order:
            current, mask = feats[k], masks[k]
            if prev is None:
                prop = current
            else:
                index = k if backward else k - 1
                flow_p, flow_c = flows_prop[:, index], flows_check[:, index]
                valid = fb_consistency(flow_p, flow_c)
                warped = warp(prev, flow_p, interpolation)
                cond = torch.cat((current, warped, flow_p, valid, mask), dim=1)
                prop = align(prev, cond, flow_p)
            prop = prop + refine(torch.cat((current, prop, mask), dim=1))
            outputs[k] = prev = prop
        return outputs

    def forward(
        self,
        x: torch.Tensor,
        flows_forward: torch.Tensor,
        flows_backward: torch.Tensor,
        masks: torch.Tensor,
        interpolation: str = "bilinear",
    ) -> torch.Tensor:
        """x (B, L, C, h, w), flows (B, L−1, 2, h, w), masks (B, L, 2, h, w) → (B, L, C, h, w).

        The backward sweep runs first; the forward sweep then propagates the backward outputs.
        """
        b, length, c, h, w = x.shape
        feats = list(x.unbind(1))
        mask_list = list(masks.unbind(1))
        back = self._sweep(
            "backward_1", feats, mask_list, flows_forward, flows_backward, interpolation
        )
        fwd = self._sweep(
            "forward_1", back, mask_list, flows_backward, flows_forward, interpolation
        )
        fused = torch.cat((torch.stack(back, 1), torch.stack(fwd, 1), masks), dim=2)
        fused = self.fuse(fused.view(b * length, -1, h, w)).view(b, length, c, h, w)
        return fused + x


# --------------------------------------------------------------------------------------------
# Soft split / composition and the transformer


def _patch_count(size: int) -> int:
    return (size + 2 * PATCH["padding"] - PATCH["kernel_size"]) // PATCH["stride"] + 1


def _linear_to_columns(linear: nn.Linear, tokens: torch.Tensor) -> torch.Tensor:
    """Apply `linear` to tokens (n, L, Cin) giving (n, Cout, L), the layout fold/unfold use.

    One batched GEMM on the transposed view (bias fused) avoids materialising large transposes.
    """
    weight = linear.weight.expand(tokens.shape[0], -1, -1)
    return torch.baddbmm(linear.bias.unsqueeze(-1), weight, tokens.transpose(1, 2))


def _linear_from_columns(linear: nn.Linear, columns: torch.Tensor) -> torch.Tensor:
    """Apply `linear` to columns (n, Cin, L) (an unfold result) giving tokens (n, L, Cout)."""
    weight = linear.weight.t().expand(columns.shape[0], -1, -1)
    return torch.baddbmm(linear.bias, columns.transpose(1, 2), weight)


class SoftSplit(nn.Module):
    """Overlapping 7×7/stride-3 patches of the feature map, each embedded into one token."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Linear(FEAT_CHANNELS * PATCH["kernel_size"] ** 2, TOKEN_DIM)

    def forward(self, x: torch.Tensor, batch: int) -> torch.Tensor:
        """x (B·T, C, h, w) → tokens (B, T, Ht, Wt, 512)."""
        n, _, h, w = x.shape
        tokens = _linear_from_columns(self.embedding, F.unfold(x, **PATCH))
        return tokens.reshape(batch, n // batch, _patch_count(h), _patch_count(w), TOKEN_DIM)


class SoftComp(nn.Module):
    """Tokens back to overlapping patches, overlap-added (no coverage division), then a conv."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Linear(TOKEN_DIM, FEAT_CHANNELS * PATCH["kernel_size"] ** 2)
        self.bias_conv = _conv3(FEAT_CHANNELS, FEAT_CHANNELS)

    def forward(self, tokens: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """tokens (B, T, Ht, Wt, 512) → (B·T, 128, h, w)."""
        b, t, ht, wt, _ = tokens.shape
        patches = _linear_to_columns(self.embedding, tokens.reshape(b * t, ht * wt, TOKEN_DIM))
        return self.bias_conv(F.fold(patches, output_size=size, **PATCH))


def _rolled_valid_indices() -> torch.Tensor:
    """Indices (into the 4×45 rolled candidates, order tl, tr, bl, br) that land outside the window.

    A candidate at in-window (r, c) of quadrant (dy, dx) is the token (r + dy, c + dx); it is
    dropped when that position is still inside the 5×9 window (already a window key).
    """
    (wh, ww), (ey, ex) = WINDOW, EXPAND
    rows = torch.arange(wh).view(-1, 1).expand(wh, ww).reshape(-1)
    cols = torch.arange(ww).view(1, -1).expand(wh, ww).reshape(-1)
    keep = []
    for dy, dx in ((ey, ex), (ey, -ex), (-ey, ex), (-ey, -ex)):
        inside = (rows + dy >= 0) & (rows + dy < wh) & (cols + dx >= 0) & (cols + dx < ww)
        keep.append(~inside)
    return torch.nonzero(torch.cat(keep)).view(-1)


def _window_key_positions(n_wh: int, n_ww: int, valid_rolled: torch.Tensor) -> torch.Tensor:
    """Flat token positions (nW, 45 + 148) of each window's own and rolled keys on the Hp×Wp grid.

    The rolled keys of quadrant (dy, dx) are the tokens at (Y0 + r + dy, X0 + c + dx), circular
    over the padded grid (a torch.roll by (−dy, −dx)), order tl, tr, bl, br; only the candidates
    listed in `valid_rolled` are kept. Gathering by position avoids rolling whole key maps.
    """
    (wh, ww), (ey, ex) = WINDOW, EXPAND
    hp, wp = n_wh * wh, n_ww * ww
    device = valid_rolled.device
    rows = torch.arange(n_wh, device=device).view(-1, 1, 1, 1) * wh
    rows = rows + torch.arange(wh, device=device).view(1, 1, -1, 1)
    cols = torch.arange(n_ww, device=device).view(1, -1, 1, 1) * ww
    cols = cols + torch.arange(ww, device=device).view(1, 1, 1, -1)

    def flat(dy: int, dx: int) -> torch.Tensor:
        return (((rows + dy) % hp) * wp + (cols + dx) % wp).reshape(n_wh * n_ww, wh * ww)

    quadrants = ((ey, ex), (ey, -ex), (-ey, ex), (-ey, -ex))  # tl, tr, bl, br
    rolled = torch.cat([flat(dy, dx) for dy, dx in quadrants], dim=1)
    return torch.cat((flat(0, 0), rolled.index_select(1, valid_rolled)), dim=1)


class SparseWindowAttention(nn.Module):
    """Mask-guided sparse window attention over 5×9 token windows of all frames.

    Windows containing a hole token of some local frame attend with all frames' queries over the
    window, rolled-neighbourhood and pooled global keys of every t_dilation-th frame; the other
    windows only attend within their own frame and window, which keeps the cost low.
    """

    def __init__(self, dim: int = TOKEN_DIM, heads: int = NUM_HEADS) -> None:
        super().__init__()
        self.heads = heads
        self.register_buffer("valid_ind_rolled", _rolled_valid_indices())
        self.key = nn.Linear(dim, dim)
        self.query = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.pool_layer = nn.Conv2d(dim, dim, POOL, stride=POOL, groups=dim)

    def forward(
        self, x: torch.Tensor, token_mask: torch.Tensor, t_ind: torch.Tensor
    ) -> torch.Tensor:
        """x (B, T, Ht, Wt, C) normalised tokens, token_mask (B, Lt, Ht, Wt, 1), t_ind the frames
        whose keys the masked windows see. Returns (B, T, Ht, Wt, C)."""
        _, _, ht, wt, _ = x.shape
        hp = math.ceil(ht / WINDOW[0]) * WINDOW[0]
        wp = math.ceil(wt / WINDOW[1]) * WINDOW[1]
        pad = (0, 0, 0, wp - wt, 0, hp - ht)
        x, token_mask = F.pad(x, pad), F.pad(token_mask, pad)
        masked = self._masked_windows(token_mask)
        unmasked = ~masked
        query = self._windows(self.query(x))
        key_map, value_map = self.key(x), self.value(x)
        out = torch.empty_like(query)
        if unmasked.any():
            key, value = self._windows(key_map)[unmasked], self._windows(value_map)[unmasked]
            out[unmasked] = F.scaled_dot_product_attention(query[unmasked], key, value)
        if masked.any():
            out[masked] = self._masked_attention(
                query[masked], key_map, value_map, x, masked, t_ind
            )
        out = self._unwindows(out, hp, wp)[:, :, :ht, :wt]
        return self.proj(out)

    def _windows(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, Hp, Wp, C) → (B, nW, heads, T, 45, C/heads)."""
        b, t, hp, wp, c = x.shape
        (wh, ww), nwh, nww = WINDOW, hp // WINDOW[0], wp // WINDOW[1]
        x = x.view(b, t, nwh, wh, nww, ww, self.heads, c // self.heads)
        x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)
        return x.reshape(b, nwh * nww, self.heads, t, wh * ww, c // self.heads)

    def _unwindows(self, x: torch.Tensor, hp: int, wp: int) -> torch.Tensor:
        """Inverse of `_windows`: (B, nW, heads, T, 45, d) → (B, T, Hp, Wp, heads·d)."""
        b, _, heads, t, _, d = x.shape
        (wh, ww), nwh, nww = WINDOW, hp // WINDOW[0], wp // WINDOW[1]
        x = x.view(b, nwh, nww, heads, t, wh, ww, d).permute(0, 4, 1, 5, 2, 6, 3, 7)
        return x.reshape(b, t, hp, wp, heads * d)

    def _masked_windows(self, token_mask: torch.Tensor) -> torch.Tensor:
        """(B, nW) bool: windows holding a hole token in at least one local frame."""
        b, lt, hp, wp, _ = token_mask.shape
        peak = F.max_pool2d(token_mask.view(b * lt, 1, hp, wp), WINDOW, stride=WINDOW)
        return peak.view(b, lt, -1).sum(dim=1) > 0

    def _pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Global tokens from the learned 4×4 depth-wise pooling of x: (B, Pn, T, C)."""
        b, t, hp, wp, c = x.shape
        pooled = self.pool_layer(x.reshape(b * t, hp, wp, c).permute(0, 3, 1, 2))
        return pooled.view(b, t, c, -1).permute(0, 3, 1, 2)

    def _masked_attention(
        self,
        query: torch.Tensor,
        key_map: torch.Tensor,
        value_map: torch.Tensor,
        x: torch.Tensor,
        masked: torch.Tensor,
        t_ind: torch.Tensor,
    ) -> torch.Tensor:
        """All frames' window queries (M, heads, T, 45, d) of the M masked windows (in (batch,
        window) order) attend over window + rolled + pooled keys of the frames in t_ind."""
        b, t, hp, wp, c = x.shape
        batch_of, window_of = masked.nonzero().unbind(1)
        positions = _window_key_positions(hp // WINDOW[0], wp // WINDOW[1], self.valid_ind_rolled)[
            window_of
        ]
        pooled = self._pooled(x.index_select(1, t_ind))

        def gather(tokens: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
            grid = tokens.index_select(1, t_ind).view(b, len(t_ind), hp * wp, c).transpose(1, 2)
            local = grid[batch_of.unsqueeze(1), positions]  # (M, 193, T', C)
            keys = torch.cat((local, linear(pooled)[batch_of]), dim=1)
            m, k, tk, _ = keys.shape
            keys = keys.view(m, k, tk, self.heads, -1).permute(0, 3, 2, 1, 4)
            return keys.reshape(m, self.heads, tk * k, -1)

        m, heads, _, n, d = query.shape
        out = F.scaled_dot_product_attention(
            query.reshape(m, heads, t * n, d),
            gather(key_map, self.key),
            gather(value_map, self.value),
        )
        return out.view(m, heads, t, n, d)


class FusionFeedForward(nn.Module):
    """Token FFN whose hidden units are folded back to the feature grid (coverage-normalised) and
    re-split, so overlapping patches exchange information before the GELU."""

    def __init__(self, dim: int = TOKEN_DIM, hidden: int = FFN_HIDDEN) -> None:
        super().__init__()
        self.fc1 = nn.Sequential(nn.Linear(dim, hidden))
        self.fc2 = nn.Sequential(nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        b, t, ht, wt, c = x.shape
        hidden = _linear_to_columns(self.fc1[0], x.reshape(b * t, ht * wt, c))
        ones = hidden.new_ones(1, PATCH["kernel_size"] ** 2, ht * wt)
        coverage = F.fold(ones, output_size=size, **PATCH)
        folded = F.fold(hidden, output_size=size, **PATCH) / coverage
        hidden = self.fc2[0](F.unfold(folded, **PATCH))
        return _linear_from_columns(self.fc2[1], hidden).reshape(b, t, ht, wt, c)


class TransformerBlock(nn.Module):
    """Pre-norm block: sparse window attention and fusion FFN, each with a residual."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = SparseWindowAttention()
        self.norm1 = nn.LayerNorm(TOKEN_DIM)
        self.norm2 = nn.LayerNorm(TOKEN_DIM)
        self.mlp = FusionFeedForward()

    def forward(
        self, x: torch.Tensor, token_mask: torch.Tensor, t_ind: torch.Tensor, size: tuple[int, int]
    ) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), token_mask, t_ind)
        return x + self.mlp(self.norm2(x), size)


class TransformerStack(nn.Module):
    """Eight blocks; block i's masked windows take keys from frames i mod d, i mod d + d, …"""

    def __init__(self, depth: int = NUM_BLOCKS) -> None:
        super().__init__()
        self.transformer = nn.ModuleList(TransformerBlock() for _ in range(depth))

    def forward(
        self, x: torch.Tensor, token_mask: torch.Tensor, t_dilation: int, size: tuple[int, int]
    ) -> torch.Tensor:
        frames = x.shape[1]
        for index, block in enumerate(self.transformer):
            t_ind = torch.arange(index % t_dilation, frames, t_dilation, device=x.device)
            x = block(x, token_mask, t_ind, size)
        return x


# --------------------------------------------------------------------------------------------
# Generator


def _downsample_flows(flows: torch.Tensor) -> torch.Tensor:
    """(B, N, 2, H, W) → (B, N, 2, H/4, W/4): bilinear (align_corners=False), values ÷ 4."""
    b, n, _, h, w = flows.shape
    small = (
        F.interpolate(
            flows.reshape(b * n, 2, h, w), scale_factor=0.25, mode="bilinear", align_corners=False
        )
        / 4.0
    )
    return small.view(b, n, 2, h // 4, w // 4)


def _downsample_masks(masks: torch.Tensor) -> torch.Tensor:
    """(B, L, 1, H, W) → (B, L, 1, H/4, W/4) by legacy nearest (the top-left pixel of each cell)."""
    b, n, _, h, w = masks.shape
    small = F.interpolate(masks.reshape(b * n, 1, h, w), scale_factor=0.25, mode="nearest")
    return small.view(b, n, 1, h // 4, w // 4)


class InpaintGenerator(nn.Module):
    """ProPainter's video inpainting generator (eval semantics: only local frames are decoded)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.decoder = nn.Sequential(
            UpConv(FEAT_CHANNELS, 128),
            _lrelu(0.2),
            _conv3(128, 64),
            _lrelu(0.2),
            UpConv(64, 64),
            _lrelu(0.2),
            _conv3(64, 3),
        )
        self.ss = SoftSplit()
        self.sc = SoftComp()
        self.feat_prop_module = FeaturePropagation()
        self.transformers = TransformerStack()

    def img_propagation(
        self,
        masked_frames: torch.Tensor,
        completed_flows: tuple[torch.Tensor, torch.Tensor],
        masks: torch.Tensor,
        interpolation: str = "nearest",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight-free pixel propagation (shared with the classical backend)."""
        flows_forward, flows_backward = completed_flows
        return image_propagation(masked_frames, flows_forward, flows_backward, masks, interpolation)

    def encode(
        self, masked_frames: torch.Tensor, masks_in: torch.Tensor, masks_updated: torch.Tensor
    ) -> torch.Tensor:
        """Encoder features (B, T, 128, H/4, W/4) of each frame on its own: a frame's features
        depend on nothing but its pixels and masks, so windows sharing it can share them."""
        b, t, _, height, width = masked_frames.shape
        inputs = torch.cat((masked_frames, masks_in, masks_updated), dim=2)
        feats = self.encoder(inputs.view(b * t, -1, height, width))
        return feats.view(b, t, *feats.shape[1:])

    def forward(
        self,
        masked_frames: torch.Tensor,
        completed_flows: tuple[torch.Tensor, torch.Tensor],
        masks_in: torch.Tensor,
        masks_updated: torch.Tensor,
        num_local_frames: int | torch.Tensor,
        interpolation: str = "bilinear",
        t_dilation: int = 2,
        feats: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Inpaint the first `num_local_frames` of (B, T, 3, H, W); the rest are references.

        completed_flows: forward/backward flows (B, Lt−1, 2, H, W) between the local frames;
        masks_in: dilated holes, masks_updated: holes left after image propagation (B, T, 1, H, W).
        feats: `encode` of the same inputs when the caller already has it (the sliding windows
        share most frames, and the encoder is frame-wise). Returns tanh output (B, Lt, 3, H, W).
        """
        local = int(num_local_frames)
        b, t, _, height, width = masked_frames.shape
        if feats is None:
            feats = self.encode(masked_frames, masks_in, masks_updated)
        _, _, c, h, w = feats.shape

        flows_forward, flows_backward = (_downsample_flows(f) for f in completed_flows)
        mask_in = _downsample_masks(masks_in)[:, :local]
        mask_up = _downsample_masks(masks_updated[:, :local])
        token_mask = F.max_pool2d(mask_in.reshape(b * local, 1, h, w), **PATCH)
        token_mask = token_mask.view(b, local, *token_mask.shape[-2:], 1)

        local_feats = self.feat_prop_module(
            feats[:, :local],
            flows_forward,
            flows_backward,
            torch.cat((mask_in, mask_up), dim=2),
            interpolation,
        )
        feats = torch.cat((local_feats, feats[:, local:]), dim=1)

        tokens = self.ss(feats.view(b * t, c, h, w), b)
        tokens = self.transformers(tokens, token_mask, t_dilation, (h, w))
        feats = feats + self.sc(tokens, (h, w)).view(b, t, c, h, w)

        out = self.decoder(feats[:, :local].reshape(b * local, c, h, w))
        return torch.tanh(out).view(b, local, 3, height, width)
