"""Floating-point operations of the benchmarked models, counted from their shapes: matrix products and
convolutions only (2 FLOPs a multiply-add); norms, activations, softmax and the optimiser are left out, as usual.
A training step counts the backward as twice the forward for every product whose input needs a gradient and once
(the weight gradient alone) where it does not: the first convolution (the waveform) and the projections of cached
features."""


def conv_frames(samples, kernels, strides):
    frames = []
    for k, s in zip(kernels, strides):
        samples = (samples - k) // s + 1
        frames.append(samples)
    return frames


def wav2vec2(c, batch, samples):
    """Forward FLOPs of a wav2vec2 encoder on [batch, samples] (padded length): (first conv, everything else)."""
    frames = conv_frames(samples, c["conv_kernel"], c["conv_stride"])
    dims = [1] + list(c["conv_dim"])
    convs = [2 * batch * dims[i] * dims[i + 1] * c["conv_kernel"][i] * frames[i] for i in range(len(frames))]
    t, d, f = frames[-1], c["hidden_size"], c["intermediate_size"]
    rest = sum(convs[1:])
    rest += 2 * batch * t * dims[-1] * d                                                    # feature projection
    rest += 2 * batch * t * d * (d // c["num_conv_pos_embedding_groups"]) * c["num_conv_pos_embeddings"]
    per_layer = 8 * batch * t * d * d + 4 * batch * t * t * d + 4 * batch * t * d * f
    return convs[0], rest + c["num_hidden_layers"] * per_layer, t


def bert(c, batch, tokens):
    d, f = c["hidden_size"], c["intermediate_size"]
    return c["num_hidden_layers"] * (8 * batch * tokens * d * d + 4 * batch * tokens * tokens * d +
                                     4 * batch * tokens * d * f)


def fas_head(c, batch, acoustic_frames, acoustic_dim, semantic_tokens, semantic_dim, num_classes):
    """(projections of the streams, the rest of the head): forward FLOPs."""
    d, nq = c["d_model"], c["num_queries"]
    pa = -(-acoustic_frames // c["patch_aco"])
    ps = -(-semantic_tokens // c["patch_sem"])
    projections = 2 * batch * (pa * acoustic_dim + ps * semantic_dim) * d
    n = c["k_aco"] + c["k_sem"]
    hidden = int(c["mlp_ratio"] * d + 0.5)
    pooled = nq * d
    rest = 2 * batch * (2 * nq * d * d + 2 * n * d * d) + 4 * batch * nq * n * d + 4 * batch * nq * d * hidden
    rest += 2 * batch * (pooled * (pooled // 2) + (pooled // 2) * num_classes)
    return projections, rest


def wav2vec2_base():
    return {"conv_dim": [512] * 7, "conv_kernel": [10, 3, 3, 3, 3, 2, 2], "conv_stride": [5, 2, 2, 2, 2, 2, 2],
            "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
            "num_conv_pos_embeddings": 128, "num_conv_pos_embedding_groups": 16}


def encoder_forward(seconds, batch):
    first, rest, _ = wav2vec2(wav2vec2_base(), batch, int(seconds * 16000))
    return first + rest


def head_step(c, batch, frames_a, dim_a, frames_s, dim_s, classes):
    projections, rest = fas_head(c, batch, frames_a, dim_a, frames_s, dim_s, classes)
    return 2 * projections + 3 * rest


def head_step_fas(c, batch, frames_a, dim_a, frames_s, dim_s, classes):
    """FLOPs of the route FAS takes through a head training step on constant features (src/fusion): the same
    function with less work. The projections' weight gradient comes from the kept Top-K rows only; attention
    applies W_k and W_v on the query side (queries shared by the batch), so no key or value is projected."""
    d, nq, h = c["d_model"], c["num_queries"], c["num_heads"]
    pa = -(-frames_a // c["patch_aco"])
    ps = -(-frames_s // c["patch_sem"])
    forward_projections = 2 * batch * (pa * dim_a + ps * dim_s) * d
    backward_projections = 2 * batch * (c["k_aco"] * dim_a + c["k_sem"] * dim_s) * d
    n = c["k_aco"] + c["k_sem"]
    hidden = int(c["mlp_ratio"] * d + 0.5)
    pooled = nq * d
    shared = 2 * 2 * nq * d * d  # q_proj and W_k^T q, once for the whole batch
    per_row = 4 * h * nq * n * d + 4 * nq * d * d + 4 * nq * d * hidden  # scores + mixing at width d, W_v + out
    per_row += 2 * (pooled * (pooled // 2) + (pooled // 2) * classes)
    return forward_projections + backward_projections + 3 * (shared + batch * per_row)


def train_step(m, batch, samples, tokens):
    first, rest, frames = wav2vec2(m["acoustic"], batch, samples)
    text = bert(m["text"], batch, tokens)
    projections, head = fas_head(m["fusion"], batch, frames, m["acoustic"]["hidden_size"], tokens,
                                 m["text"]["hidden_size"], m["num_classes"])
    return 2 * first + 3 * (rest + text + projections + head)
