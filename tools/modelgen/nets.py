"""Random-weight networks with FunASR's architectures (FSMN-VAD, SAN-M Paraformer, CT-Transformer).
Written from the published descriptions; dimensions are parameters so the same code builds the
`tiny` set (small inner sizes, contract I/O sizes) and the `full` set (published sizes).
Every forward() consumes all of its declared inputs so torch.onnx.export keeps them."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import sinusoid


def _zero_use(*tensors):
    """A 0-valued scalar that depends on every tensor (keeps otherwise unused inputs in the graph)."""
    s = 0.0
    for t in tensors:
        s = s + t.float().sum() * 0.0
    return s


# ---------------------------------------------------------------------------
# FSMN-VAD (encoder_conf of fsmn_vad_streaming/template.yaml)
# ---------------------------------------------------------------------------
class FsmnVad(nn.Module):
    def __init__(self, input_dim=400, affine=140, linear=250, proj=128, lorder=20, layers=4, out_dim=248):
        super().__init__()
        self.lorder = lorder
        self.in1 = nn.Linear(input_dim, affine)
        self.in2 = nn.Linear(affine, linear)
        self.shrink = nn.ModuleList([nn.Linear(linear, proj, bias=False) for _ in range(layers)])
        self.memory = nn.ModuleList([nn.Conv2d(proj, proj, (lorder, 1), groups=proj, bias=False) for _ in range(layers)])
        self.expand = nn.ModuleList([nn.Linear(proj, linear) for _ in range(layers)])
        self.out1 = nn.Linear(linear, affine)
        self.out2 = nn.Linear(affine, out_dim)

    def forward(self, speech, c0, c1, c2, c3):
        x = F.relu(self.in2(self.in1(speech)))
        caches = []
        for i, cache in enumerate((c0, c1, c2, c3)):
            p = self.shrink[i](x)                                  # [1,T,P]
            pt = p.permute(0, 2, 1).unsqueeze(-1)                  # [1,P,T,1]
            full = torch.cat([cache, pt], dim=2)                   # [1,P,19+T,1]
            caches.append(full[:, :, -(self.lorder - 1):, :])      # last 19 frames = next call's memory
            mem = self.memory[i](full).squeeze(-1).permute(0, 2, 1)  # [1,T,P]
            x = F.relu(self.expand[i](p + mem))
        logits = torch.softmax(self.out2(self.out1(x)), dim=-1)
        return (logits, *caches)


# ---------------------------------------------------------------------------
# SAN-M encoder (self-attention + FSMN memory on V), CIF predictor, Paraformer decoder
# ---------------------------------------------------------------------------
class SanmAttention(nn.Module):
    def __init__(self, din, d, heads, kernel):
        super().__init__()
        self.h, self.dk = heads, d // heads
        self.linear_q_k_v = nn.Linear(din, 3 * d)
        self.linear_out = nn.Linear(d, d)
        self.fsmn = nn.Conv1d(d, d, kernel, groups=d, bias=False)
        self.pad = (kernel - 1) // 2

    def forward(self, x, mask_bias):
        b = x.shape[0]
        q, k, v = self.linear_q_k_v(x).chunk(3, dim=-1)
        mem = self.fsmn(F.pad(v.transpose(1, 2), (self.pad, self.pad))).transpose(1, 2) + v
        q = q.view(b, -1, self.h, self.dk).transpose(1, 2) * (self.dk ** -0.5)
        k = k.view(b, -1, self.h, self.dk).transpose(1, 2)
        vv = v.view(b, -1, self.h, self.dk).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1))
        if mask_bias is not None:
            scores = scores + mask_bias
        ctx = torch.matmul(torch.softmax(scores, dim=-1), vv).transpose(1, 2).reshape(b, -1, self.h * self.dk)
        return self.linear_out(ctx) + mem


class FeedForward(nn.Module):
    def __init__(self, d, units):
        super().__init__()
        self.w_1 = nn.Linear(d, units)
        self.w_2 = nn.Linear(units, d)

    def forward(self, x):
        return self.w_2(F.relu(self.w_1(x)))


class SanmEncoderLayer(nn.Module):
    def __init__(self, din, d, heads, units, kernel):
        super().__init__()
        self.residual = din == d
        self.norm1 = nn.LayerNorm(din)
        self.self_attn = SanmAttention(din, d, heads, kernel)
        self.norm2 = nn.LayerNorm(d)
        self.feed_forward = FeedForward(d, units)

    def forward(self, x, mask_bias):
        a = self.self_attn(self.norm1(x), mask_bias)
        x = x + a if self.residual else a
        return x + self.feed_forward(self.norm2(x))


class SanmEncoder(nn.Module):
    """in_dim -> d with `blocks` SAN-M layers; optional in-graph scaling + sinusoidal positions (offline export)."""

    def __init__(self, in_dim, d, heads, units, blocks, kernel, scale_and_pe):
        super().__init__()
        self.in_dim, self.scale_and_pe = in_dim, scale_and_pe
        self.encoders = nn.ModuleList([SanmEncoderLayer(in_dim if i == 0 else d, d, heads, units, kernel)
                                       for i in range(blocks)])
        self.after_norm = nn.LayerNorm(d)

    def forward(self, x, lengths):
        t = x.shape[1]
        if self.scale_and_pe:
            pos = torch.arange(1, t + 1, device=x.device)
            x = x * math.sqrt(512.0) + sinusoid(pos, self.in_dim).unsqueeze(0)
        valid = (torch.arange(t, device=x.device).unsqueeze(0) < lengths.unsqueeze(1).long()).float()  # [B,T]
        bias = ((1.0 - valid) * -10000.0)[:, None, None, :]
        for layer in self.encoders:
            x = layer(x, bias)
        return self.after_norm(x) * valid.unsqueeze(-1), valid


class CifPredictor(nn.Module):
    """CifPredictorV2.forward_cnn shape: conv(k=3) + residual + relu -> linear -> sigmoid."""

    def __init__(self, d, bias=-0.6):
        super().__init__()
        self.cif_conv1d = nn.Conv1d(d, d, 3, padding=1)
        self.cif_output = nn.Linear(d, 1)
        nn.init.constant_(self.cif_output.bias, bias)  # about 0.35 tokens per 60 ms frame, like Mandarin speech

    def forward(self, h, valid):
        c = F.relu(self.cif_conv1d(h.transpose(1, 2)).transpose(1, 2) + h)
        return torch.sigmoid(self.cif_output(c)).squeeze(-1) * valid


class DecoderLayer(nn.Module):
    """ParaformerSANMDecoder layer: FFN -> FSMN self-memory (cached in streaming) -> optional cross-attention."""

    def __init__(self, d, heads, units, kernel, cross):
        super().__init__()
        self.d, self.h, self.lorder = d, heads, kernel - 1
        self.norm1 = nn.LayerNorm(d)
        self.w_1 = nn.Linear(d, units)
        self.ffn_norm = nn.LayerNorm(units)
        self.w_2 = nn.Linear(units, d, bias=False)
        self.norm2 = nn.LayerNorm(d)
        self.fsmn = nn.Conv1d(d, d, kernel, groups=d, bias=False)
        self.cross = cross
        if cross:
            self.norm3 = nn.LayerNorm(d)
            self.linear_q = nn.Linear(d, d)
            self.linear_k_v = nn.Linear(d, 2 * d)
            self.linear_out = nn.Linear(d, d)

    def forward(self, x, memory, mem_bias, cache):
        y = self.w_2(self.ffn_norm(F.relu(self.w_1(self.norm1(x)))))
        z = self.norm2(y).transpose(1, 2)                          # [B,d,N]
        if cache is not None:
            full = torch.cat([cache, z], dim=2)                    # [B,d,lorder+N]
            new_cache = full[:, :, -self.lorder:]
        else:
            full = F.pad(z, (self.lorder // 2, self.lorder - self.lorder // 2))
            new_cache = None
        x = x + self.fsmn(full).transpose(1, 2) + z.transpose(1, 2)
        if self.cross:
            b, dk = x.shape[0], self.d // self.h
            q = self.linear_q(self.norm3(x)).view(b, -1, self.h, dk).transpose(1, 2) * (dk ** -0.5)
            k, v = self.linear_k_v(memory).chunk(2, dim=-1)
            k = k.view(b, -1, self.h, dk).transpose(1, 2)
            v = v.view(b, -1, self.h, dk).transpose(1, 2)
            att = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) + mem_bias, dim=-1)
            x = x + self.linear_out(torch.matmul(att, v).transpose(1, 2).reshape(b, -1, self.d))
        return x, new_cache


class ParaformerDecoder(nn.Module):
    def __init__(self, d, vocab, heads, units, blocks, att_layers, kernel):
        super().__init__()
        self.decoders = nn.ModuleList([DecoderLayer(d, heads, units, kernel, cross=i < att_layers) for i in range(blocks)])
        self.decoders3 = FeedForward(d, units)
        self.norm3 = nn.LayerNorm(d)
        self.after_norm = nn.LayerNorm(d)
        self.output_layer = nn.Linear(d, vocab)

    def forward(self, enc, enc_valid, embeds, embeds_valid, caches):
        mem_bias = ((1.0 - enc_valid) * -10000.0)[:, None, None, :]
        x = embeds * embeds_valid.unsqueeze(-1)
        new_caches = []
        for i, layer in enumerate(self.decoders):
            x, c = layer(x, enc, mem_bias, None if caches is None else caches[i])
            new_caches.append(c)
        x = x + self.decoders3(self.norm3(x))
        return self.output_layer(self.after_norm(x)), new_caches


def _seq_valid(lengths, t):
    return (torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1).long()).float()


def cif_fire_indices(alphas):
    """Exportable stand-in for CIF (batch 1): a token fires where floor(cumsum(alphas)) steps up, plus one
    tail token at the last frame (what tail_threshold adds in the real model, normally `</s>`)."""
    t = alphas.shape[1]
    cs = torch.cumsum(alphas[0], dim=0)
    fl = torch.floor(cs)
    prev = torch.cat([torch.zeros(1), fl[:-1]])
    fire = (fl > prev) | (torch.arange(t) == t - 1)
    return torch.nonzero(fire).squeeze(-1), cs


class OnlineEncoder(nn.Module):
    """Streaming export: no in-graph scaling/PE (the runtime does them); proj lifts a small inner size to 512."""

    def __init__(self, d, heads, units, blocks, kernel):
        super().__init__()
        self.encoder = SanmEncoder(560, d, heads, units, blocks, kernel, scale_and_pe=False)
        self.predictor = CifPredictor(d)
        self.proj = nn.Linear(d, 512) if d != 512 else None

    def forward(self, speech, speech_lengths):
        h, valid = self.encoder(speech, speech_lengths)
        alphas = self.predictor(h, valid)
        enc = self.proj(h) if self.proj is not None else h
        return enc, speech_lengths + torch.zeros_like(speech_lengths), alphas


class OnlineDecoder(nn.Module):
    def __init__(self, vocab, heads, units, blocks, att_layers, kernel):
        super().__init__()
        self.decoder = ParaformerDecoder(512, vocab, heads, units, blocks, att_layers, kernel)

    def forward(self, enc, enc_len, acoustic_embeds, acoustic_embeds_len, *caches):
        logits, new_caches = self.decoder(enc, _seq_valid(enc_len, enc.shape[1]), acoustic_embeds,
                                          _seq_valid(acoustic_embeds_len, acoustic_embeds.shape[1]), list(caches))
        return (logits, torch.argmax(logits, dim=-1), *new_caches)


class OfflineParaformer(nn.Module):
    """Offline export: scaling + PE in the graph, predictor, CIF stand-in, non-streaming decoder, log-softmax.
    With timestamps=True it is the BiCIF variant (us_alphas / us_cif_peak at 3x the frame rate)."""

    def __init__(self, d, vocab, heads, units, enc_blocks, dec_blocks, att_layers, kernel, timestamps):
        super().__init__()
        self.encoder = SanmEncoder(560, d, heads, units, enc_blocks, kernel, scale_and_pe=True)
        self.predictor = CifPredictor(d)
        self.decoder = ParaformerDecoder(d, vocab, heads, units, dec_blocks, att_layers, kernel)
        self.timestamps = timestamps
        if timestamps:  # CifPredictorV3 upsampling branch: transposed conv x3 + linear -> sigmoid
            self.upsample_cnn = nn.ConvTranspose1d(d, d, 3, stride=3)
            self.cif_output2 = nn.Linear(d, 1)
            nn.init.constant_(self.cif_output2.bias, -1.7)

    def forward(self, speech, speech_lengths):
        h, valid = self.encoder(speech, speech_lengths)
        alphas = self.predictor(h, valid)
        idx, _ = cif_fire_indices(alphas)
        embeds = torch.index_select(h, 1, idx)
        ones = torch.ones(1, idx.shape[0])
        logits, _ = self.decoder(h, valid, embeds, ones, None)
        logits = torch.log_softmax(logits, dim=-1)
        token_num = torch.full_like(speech_lengths, 0) + ones.sum(-1).to(torch.int32)
        if not self.timestamps:
            return logits, token_num
        up = F.relu(self.upsample_cnn(h.transpose(1, 2)).transpose(1, 2))       # [1,3T,d]
        us_alphas = torch.sigmoid(self.cif_output2(up)).squeeze(-1)             # [1,3T]
        cs = torch.cumsum(us_alphas, dim=-1)
        prev = torch.cat([torch.zeros(1, 1), torch.floor(cs[:, :-1])], dim=1)
        frac = cs - torch.floor(cs)
        us_cif_peak = torch.where(torch.floor(cs) > prev, torch.ones_like(cs), frac)
        return logits, token_num, us_alphas, us_cif_peak


# ---------------------------------------------------------------------------
# CT-Transformer punctuation
# ---------------------------------------------------------------------------
class CTTransformer(nn.Module):
    def __init__(self, vocab, d, heads, units, blocks, kernel, streaming, classes=6):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.encoder = SanmEncoder(d, d, heads, units, blocks, kernel, scale_and_pe=False)
        self.decoder = nn.Linear(d, classes)
        self.streaming, self.d = streaming, d

    def _run(self, inputs, lengths, mask_bias):
        x = self.embed(inputs.long()) * math.sqrt(self.d)
        x = x + sinusoid(torch.arange(1, inputs.shape[1] + 1), self.d).unsqueeze(0)
        h = x
        valid = _seq_valid(lengths, inputs.shape[1])
        for layer in self.encoder.encoders:
            h = layer(h, mask_bias + ((1.0 - valid) * -10000.0)[:, None, None, :])
        return self.decoder(self.encoder.after_norm(h))

    def forward(self, inputs, text_lengths, vad_masks=None, sub_masks=None):
        if self.streaming:
            bias = (1.0 - vad_masks * sub_masks) * -10000.0   # the runtime passes the same matrix twice
        else:
            bias = torch.zeros(1)
        return self._run(inputs, text_lengths, bias)


# ---------------------------------------------------------------------------
# SenseVoiceSmall (funasr/models/sense_voice: SenseVoiceEncoderSmall + CTC, export_meta.py)
# ---------------------------------------------------------------------------
class SenseVoiceSmall(nn.Module):
    """Export form: 16 query embeddings of width 560 (ids: language 0..13, event/emotion 1 and 2, textnorm
    14/15) prepended to the features (language, event, emotion, textnorm), SAN-M encoder (scaling + PE in the
    graph; the real encoder's num_blocks + tp_blocks layers as one stack), CTC projection (raw logits)."""

    def __init__(self, d, vocab, heads, units, blocks, kernel):
        super().__init__()
        self.embed = nn.Embedding(16, 560)
        self.encoder = SanmEncoder(560, d, heads, units, blocks, kernel, scale_and_pe=True)
        self.ctc_lo = nn.Linear(d, vocab)

    def forward(self, speech, speech_lengths, language, textnorm):
        b = speech.shape[0]
        lang_q = self.embed(language.long()).unsqueeze(1)
        tn_q = self.embed(textnorm.long()).unsqueeze(1)
        ev_q = self.embed(torch.tensor([[1, 2]])).repeat(b, 1, 1)
        x = torch.cat([lang_q, ev_q, tn_q, speech], dim=1)
        lens = speech_lengths + 4
        h, _ = self.encoder(x, lens)
        return self.ctc_lo(h), lens
