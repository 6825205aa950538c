"""The audio side: a residual stride-2 CNN encoder of mel-spectrograms and its mirror decoder.

Spectrograms are (B, n_notes, n_mels, n_frames), scaled to about [-1, 1] (one channel per
rendered (note, velocity) pair). The encoder halves both axes ``len(channels)`` times (a 5x5
stride-2 convolution, then 4x4 stride-2 residual blocks, BatchNorm and Swish) down to a small map
(SPINVAE-2: 257 x 251 -> 512 x 2 x 2) and a gated 1x1 convolution gives the mu and pre-softplus
variance maps, flattened to dim_z each. The decoder retraces the same sizes upwards with
transposed convolutions and outputs the mean of a Gaussian over the scaled spectrogram.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


# Weights and activations are stored channels-last (NHWC): oneDNN's convolutions on a CPU run about
# twice as fast on this narrow CNN (the full-resolution layers have 1 to 8 channels), and GPUs'
# convolution kernels prefer it too. The values are the same in either layout.
CHANNELS_LAST = torch.channels_last


def _downsampled(n: int, kernel: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // 2 + 1


def feature_map_sizes(height: int, width: int, n_layers: int) -> list[tuple[int, int]]:
    """(height, width) of the input and after each stride-2 layer of the encoder."""
    sizes = [(height, width)]
    for layer in range(n_layers):
        kernel, padding = (5, 2) if layer == 0 else (4, 2)
        h, w = sizes[-1]
        sizes.append((_downsampled(h, kernel, padding), _downsampled(w, kernel, padding)))
    return sizes


class DownBlock(nn.Module):
    """Pre-activation residual block that halves height and width: (B, c_in, H, W) -> (B, c_out, H', W')."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.BatchNorm2d(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 4, stride=2, padding=2),
            nn.BatchNorm2d(c_out), nn.SiLU(), nn.Conv2d(c_out, c_out, 3, padding=1),
        )
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.main(x)
        return y + F.adaptive_avg_pool2d(self.skip(x), y.shape[-2:])


class UpBlock(nn.Module):
    """Mirror of :class:`DownBlock`: (B, c_in, h, w) -> (B, c_out, *size)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 4):
        super().__init__()
        self.norm = nn.Sequential(nn.BatchNorm2d(c_in), nn.SiLU())
        self.up = nn.ConvTranspose2d(c_in, c_out, kernel, stride=2, padding=2)
        self.refine = nn.Sequential(nn.BatchNorm2d(c_out), nn.SiLU(), nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        y = self.refine(self.up(self.norm(x), output_size=size))
        return y + F.interpolate(self.skip(x), size=size, mode="nearest")


class AudioEncoder(nn.Module):
    """Spectrograms (B, n_notes, n_mels, n_frames) -> mu, pre-softplus variance (B, dim_z) each.

    Args:
        n_notes, n_mels, n_frames: input shape.
        channels: output channels of each stride-2 layer (the first is the 5x5 convolution).
        dim_z: latent size. A multiple of the final map's area (2 x 2 = 4 for SPINVAE-2) gives the
            reference's gated 1x1 convolution to the latent maps; any other size, a gated linear layer from
            the flattened final map (so that one config fits datasets of any spectrogram size).
    """

    def __init__(self, n_notes: int, n_mels: int, n_frames: int, channels: list[int], dim_z: int):
        super().__init__()
        self.sizes = feature_map_sizes(n_mels, n_frames, len(channels))
        h, w = self.sizes[-1]
        self.flat = dim_z % (h * w) != 0
        self.stem = nn.Conv2d(n_notes, channels[0], 5, stride=2, padding=2)
        self.blocks = nn.ModuleList(DownBlock(a, b) for a, b in zip(channels[:-1], channels[1:]))
        self.gate = nn.Sequential(nn.BatchNorm2d(channels[-1]), nn.SiLU())
        # gated 1x1 convolution (GLU over channels) to the mu and variance maps
        self.to_latent = (nn.Linear(channels[-1] * h * w, 2 * 2 * dim_z) if self.flat
                          else nn.Conv2d(channels[-1], 2 * 2 * dim_z // (h * w), 1))
        self.to(memory_format=CHANNELS_LAST)

    def forward(self, spectrogram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.stem(spectrogram.contiguous(memory_format=CHANNELS_LAST))
        for block in self.blocks:
            x = block(x)
        x = self.gate(x)
        maps = F.glu(self.to_latent(x.flatten(1) if self.flat else x), dim=1)
        mu, pre_variance = maps.chunk(2, dim=1)
        return mu.flatten(1), pre_variance.flatten(1)


class SpectrogramDecoder(nn.Module):
    """z (B, dim_z) -> mean of the scaled spectrogram (B, n_notes, n_mels, n_frames).

    Same arguments as :class:`AudioEncoder`; the layers retrace its sizes in reverse.
    """

    def __init__(self, n_notes: int, n_mels: int, n_frames: int, channels: list[int], dim_z: int):
        super().__init__()
        self.sizes = feature_map_sizes(n_mels, n_frames, len(channels))
        h, w = self.sizes[-1]
        self.flat = dim_z % (h * w) != 0
        self.map_channels = channels[-1] if self.flat else dim_z // (h * w)
        self.from_latent = (nn.Linear(dim_z, channels[-1] * h * w) if self.flat
                            else nn.Conv2d(self.map_channels, channels[-1], 1))
        reversed_channels = channels[::-1]
        self.blocks = nn.ModuleList(UpBlock(a, b) for a, b in zip(reversed_channels[:-1], reversed_channels[1:]))
        self.out = UpBlock(channels[0], n_notes, kernel=5)
        self.to(memory_format=CHANNELS_LAST)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h, w = self.sizes[-1]
        if self.flat:
            x = self.from_latent(z).view(len(z), self.map_channels, h, w).contiguous(memory_format=CHANNELS_LAST)
        else:
            x = self.from_latent(z.view(len(z), self.map_channels, h, w).contiguous(memory_format=CHANNELS_LAST))
        for block, size in zip(self.blocks, self.sizes[-2:0:-1]):
            x = block(x, size)
        return self.out(x, self.sizes[0])
