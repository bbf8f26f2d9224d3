"""Keras 3 layers of the attention GANs: 2-D and bipartite attention, conditional BN, blocks.

Layers take tensors and return tensors (and, on request, attention probabilities); they know
nothing about GAN training. Every class is registered for `.keras` serialization under the
package name "ylg_tf".
"""

from ylg_tf.layers.bipartite_attention import BipartiteAttention
from ylg_tf.layers.conditional_batch_norm import ConditionalBatchNorm
from ylg_tf.layers.residual_block_down import ResidualBlockDown
from ylg_tf.layers.residual_block_up import ResidualBlockUp
from ylg_tf.layers.self_attention_2d import SelfAttention2D
from ylg_tf.layers.sparse_attention_2d import SparseAttention2D
from ylg_tf.layers.spectral import SpectralNormalization, sn_conv, sn_dense

__all__ = [
    "BipartiteAttention",
    "ConditionalBatchNorm",
    "ResidualBlockDown",
    "ResidualBlockUp",
    "SelfAttention2D",
    "SparseAttention2D",
    "SpectralNormalization",
    "sn_conv",
    "sn_dense",
]
