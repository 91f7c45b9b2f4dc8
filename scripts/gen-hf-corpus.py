#!/usr/bin/env python3
"""Generate the Hugging Face corpus in tests/fixtures/hf/.

torch2mlx reported 100% layer coverage on 36 Hugging Face architectures
(tests/test_hf_coverage.py there, one pretrained checkpoint each).  This script
builds a TINY, randomly initialised version of each of those 36 models with
`transformers` -- from a config object only, nothing is downloaded from the
Hub -- and saves, per architecture, in tests/fixtures/hf/<id>/:

    pytorch_model.bin  torch.save(state_dict) of the model's state_dict()
                       under the key names save_pretrained() writes (the
                       Hub's legacy layout; see hub_state_dict())
    config.json        config.to_json_file(), with "architectures" and "dtype"
                       filled in as save_pretrained() does
    model.pt           torch.save(model)   (full-model pickle)
    modules.json       what the model is made of (schema below)

<id> is the test id torch2mlx used (bert, ..., pythia for GPT-NeoX,
deberta_v3 for DeBERTa-v2, resnet_hf, mobilenet, ...); the class is the one
torch2mlx loaded (BertModel, ..., XLNetModel).

Exact command and versions used for the committed files
-------------------------------------------------------
    /work/venv-torch2/bin/pip install transformers      # PyPI; brings
        # tokenizers, safetensors, huggingface_hub, regex, pyyaml, ... (no
        # sentencepiece: no tokenizer is used)
    cd /work/main && /work/venv-torch2/bin/python scripts/gen-hf-corpus.py \
            [OUTDIR, default tests/fixtures/hf]

    transformers 5.24.0, torch 2.15.0+cu132 (run on CPU), numpy 2.4.6,
    huggingface_hub 2.4.0, CPython 3.11.2.  The venv with torch is described
    at the top of scripts/gen-torch2-fixtures.py.

The script asserts these versions unless T2M_HF_ANY_VERSION=1 is set (other
versions give other classes, keys and bytes).  Output is byte-for-byte
reproducible: fixed seeds, PYTHONHASHSEED pinned to 0 (the script re-executes
itself), torch zip records carry no dates, and the serialization id is derived
from the content.  Running it twice and comparing with cmp gives identical
files (checked).

Exceptions to "exactly as transformers builds it today"
-------------------------------------------------------
* wav2vec2, hubert: transformers wraps the positional convolution in
  torch.nn.utils.parametrizations.weight_norm, and torch refuses to pickle a
  parametrized module ("Serialization of parametrized modules is only supported
  through state_dict()"), so torch.save(model) is impossible.  Their main files
  (pytorch_model.bin, model.pt, modules.json) are therefore built with the
  legacy torch.nn.utils.weight_norm -- which is also what the real Hub files
  hold (keys ...pos_conv_embed.conv.weight_g / weight_v; a Conv1d plus a
  WeightNorm forward pre-hook in the pickle).  The current layout is saved
  beside them as pytorch_model.parametrized.bin + modules.parametrized.json
  (keys ...conv.parametrizations.weight.original0 / original1; classes
  ParametrizedConv1d, ParametrizationList, _WeightNorm), with no model.pt.

modules.json
------------
    {"class": "<module>.<Class> of the root",
     "modules": {"<path>": "<module>.<Class>" for every named_modules() entry,
                 in named_modules() order; the root is ""},
     "leaves": sorted distinct classes of modules without children,
     "leaf_params": {leaf class: true if some module of that class has
                     parameters of its own},
     "own_params": {"<path>": {"<param>": [dtype, shape]}} for every module,
                   leaf or not, holding parameters directly (recurse=False),
     "state_dict": {"<key>": [dtype, shape]}: exactly pytorch_model.bin's
                   entries, in its order,
     and, only for the models whose Hub key names differ from their module
     paths in transformers 5 (vit, swin, dinov2, beit, segformer):
     "model_state_dict": {"<key>": [dtype, shape]}: model.state_dict() of the
                   live model (what model.pt holds), in its order,
     "renamed": {"<pytorch_model.bin key>": "<model_state_dict key>"}}
dtype is torch's name without "torch." (float32, int64, ...).  Tied weights
(T5, BART, Pegasus: shared / encoder.embed_tokens / decoder.embed_tokens) are
kept under every name, one storage in the file, as torch.save writes them.

After saving, each model is run once on a tiny input (no_grad, eval) to prove
the config is a working model; the forward pass happens after saving so that
nothing it caches can reach the files.  At the end every directory is read
back (verify()): the files hold what modules.json says, model.pt and
pytorch_model.bin hold the same tensors, and transformers' own
from_pretrained(<dir>) loads each directory with no missing, unexpected or
mismatched key, to the same weights.
"""

import os
import sys

# Pickle memo/set order must not depend on str hashing.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may come from the Hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import contextlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import warnings  # noqa: E402

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers.core_model_loading import revert_weight_conversion  # noqa: E402,E501

warnings.filterwarnings("ignore")

VERSIONS = {"transformers": "5.24.0", "torch": "2.15.0"}

# Shared tiny sizes.
V = 64          # vocabulary
H = 16          # hidden size
FF = 32         # feed-forward size
NH = 2          # heads
P = 32          # positions

TEXT = dict(vocab_size=V, hidden_size=H, num_hidden_layers=1,
            num_attention_heads=NH, intermediate_size=FF,
            max_position_embeddings=P)
# RoBERTa family: positions start after padding_idx=1.
ROBERTA = dict(TEXT, max_position_embeddings=P + 2, pad_token_id=1,
               bos_token_id=0, eos_token_id=2, type_vocab_size=1)
SEQ2SEQ = dict(vocab_size=V, d_model=H, encoder_layers=1, decoder_layers=1,
               encoder_attention_heads=NH, decoder_attention_heads=NH,
               encoder_ffn_dim=FF, decoder_ffn_dim=FF,
               max_position_embeddings=P, pad_token_id=1, bos_token_id=0,
               eos_token_id=2, decoder_start_token_id=2,
               forced_eos_token_id=2)
VISION = dict(hidden_size=H, num_hidden_layers=1, num_attention_heads=NH,
              intermediate_size=FF, image_size=8, patch_size=4,
              num_channels=3)
SPEECH = dict(vocab_size=32, hidden_size=H, num_hidden_layers=1,
              num_attention_heads=NH, intermediate_size=FF,
              conv_dim=(8, 8), conv_stride=(5, 2), conv_kernel=(10, 3),
              num_conv_pos_embeddings=4, num_conv_pos_embedding_groups=2,
              feat_extract_norm="group", conv_bias=False)

# (id, model class, config class, config kwargs, input kind)
# Options that change which modules exist follow the checkpoint torch2mlx
# tested (named in the comment), only the sizes are tiny.
SPECS = [
    # bert-base-uncased
    ("bert", "BertModel", "BertConfig", dict(TEXT, type_vocab_size=2), "ids"),
    # roberta-base
    ("roberta", "RobertaModel", "RobertaConfig", ROBERTA, "ids"),
    # distilbert-base-uncased
    ("distilbert", "DistilBertModel", "DistilBertConfig",
     dict(vocab_size=V, dim=H, n_layers=1, n_heads=NH, hidden_dim=FF,
          max_position_embeddings=P), "ids"),
    # albert-base-v2: factorised embedding (embedding_size != hidden_size)
    ("albert", "AlbertModel", "AlbertConfig",
     dict(TEXT, embedding_size=8), "ids"),
    # microsoft/deberta-base: relative attention c2p|p2c, no absolute positions
    ("deberta", "DebertaModel", "DebertaConfig",
     dict(TEXT, type_vocab_size=0, relative_attention=True,
          max_relative_positions=-1, pos_att_type=["c2p", "p2c"],
          position_biased_input=False), "ids"),
    # google/electra-small-discriminator: embedding_size != hidden_size
    ("electra", "ElectraModel", "ElectraConfig",
     dict(TEXT, embedding_size=8), "ids"),
    # microsoft/mpnet-base
    ("mpnet", "MPNetModel", "MPNetConfig",
     # (its forward hard-codes 32 relative buckets: keep the default)
     dict(TEXT, max_position_embeddings=P + 2, pad_token_id=1), "ids"),
    # gpt2
    ("gpt2", "GPT2Model", "GPT2Config",
     dict(vocab_size=V, n_positions=P, n_embd=H, n_layer=1, n_head=NH,
          bos_token_id=0, eos_token_id=0), "ids"),
    # EleutherAI/gpt-neo-125m: alternating global/local attention
    ("gpt_neo", "GPTNeoModel", "GPTNeoConfig",
     dict(vocab_size=V, max_position_embeddings=P, hidden_size=H,
          num_layers=2, attention_types=[[["global", "local"], 1]],
          num_heads=NH, intermediate_size=FF, window_size=8,
          bos_token_id=0, eos_token_id=0), "ids"),
    # facebook/opt-125m (word_embed_proj_dim == hidden_size: no project_in/out)
    ("opt", "OPTModel", "OPTConfig",
     dict(vocab_size=V, hidden_size=H, num_hidden_layers=1, ffn_dim=FF,
          num_attention_heads=NH, max_position_embeddings=P,
          word_embed_proj_dim=H, pad_token_id=1, bos_token_id=2,
          eos_token_id=2), "ids"),
    # bigscience/bloom-560m
    ("bloom", "BloomModel", "BloomConfig",
     dict(vocab_size=V, hidden_size=H, n_layer=1, n_head=NH,
          bos_token_id=0, eos_token_id=0, pad_token_id=0), "ids"),
    # Qwen/Qwen2-0.5B: grouped-query attention
    ("qwen2", "Qwen2Model", "Qwen2Config",
     dict(vocab_size=V, hidden_size=H, intermediate_size=FF,
          num_hidden_layers=1, num_attention_heads=NH,
          num_key_value_heads=1, max_position_embeddings=P,
          bos_token_id=0, eos_token_id=0), "ids"),
    # t5-small
    ("t5", "T5Model", "T5Config",
     dict(vocab_size=V, d_model=H, d_kv=8, d_ff=FF, num_layers=1,
          num_decoder_layers=1, num_heads=NH,
          relative_attention_num_buckets=8,
          relative_attention_max_distance=16, pad_token_id=0,
          eos_token_id=1, decoder_start_token_id=0), "seq2seq"),
    # facebook/bart-base
    ("bart", "BartModel", "BartConfig", SEQ2SEQ, "seq2seq"),
    # google/vit-base-patch16-224 (ViTModel adds its pooler)
    ("vit", "ViTModel", "ViTConfig", VISION, "pixels"),
    # openai/clip-vit-base-patch32
    ("clip", "CLIPModel", "CLIPConfig",
     dict(text_config=dict(vocab_size=V, hidden_size=H, intermediate_size=FF,
                           num_hidden_layers=1, num_attention_heads=NH,
                           max_position_embeddings=16, bos_token_id=0,
                           eos_token_id=2, pad_token_id=1),
          vision_config=dict(hidden_size=H, intermediate_size=FF,
                             num_hidden_layers=1, num_attention_heads=NH,
                             image_size=8, patch_size=4),
          projection_dim=8), "clip"),
    # microsoft/swin-tiny-patch4-window7-224: drop_path_rate 0.1, 2 stages
    # here (one patch merging; drop path, 0 in stage 1, is a SwinDropPath in
    # stage 2; the same holds for SegFormer's 2 blocks)
    ("swin", "SwinModel", "SwinConfig",
     dict(image_size=8, patch_size=2, num_channels=3, embed_dim=8,
          depths=[1, 1], num_heads=[2, 2], window_size=2, mlp_ratio=2.0,
          drop_path_rate=0.1), "pixels"),
    # facebook/convnext-tiny-224: drop_path_rate 0, layer scale 1e-6
    ("convnext", "ConvNextModel", "ConvNextConfig",
     dict(num_channels=3, patch_size=4, num_stages=2, hidden_sizes=[8, 16],
          depths=[1, 1], image_size=8, drop_path_rate=0.0,
          layer_scale_init_value=1e-6), "pixels"),
    # facebook/dinov2-small
    ("dinov2", "Dinov2Model", "Dinov2Config",
     dict(hidden_size=H, num_hidden_layers=1, num_attention_heads=NH,
          mlp_ratio=2, image_size=8, patch_size=4, num_channels=3),
     "pixels"),
    # openai/whisper-tiny
    ("whisper", "WhisperModel", "WhisperConfig",
     dict(vocab_size=V, num_mel_bins=8, encoder_layers=1, decoder_layers=1,
          encoder_attention_heads=NH, decoder_attention_heads=NH,
          encoder_ffn_dim=FF, decoder_ffn_dim=FF, d_model=H,
          max_source_positions=16, max_target_positions=16,
          pad_token_id=1, bos_token_id=0, eos_token_id=2,
          decoder_start_token_id=0, suppress_tokens=None,
          begin_suppress_tokens=None), "whisper"),
    # facebook/wav2vec2-base: group-norm feature extractor, no conv bias
    ("wav2vec2", "Wav2Vec2Model", "Wav2Vec2Config", SPEECH, "audio"),
    # EleutherAI/pythia-70m: rotary on 25% of each head
    ("pythia", "GPTNeoXModel", "GPTNeoXConfig",
     dict(vocab_size=V, hidden_size=H, num_hidden_layers=1,
          num_attention_heads=NH, intermediate_size=FF, rotary_pct=0.25,
          max_position_embeddings=P, bos_token_id=0, eos_token_id=0),
     "ids"),
    # Salesforce/codegen-350M-mono
    ("codegen", "CodeGenModel", "CodeGenConfig",
     dict(vocab_size=V, n_positions=P, n_ctx=P, n_embd=H, n_layer=1,
          n_head=NH, rotary_dim=4, n_inner=FF, bos_token_id=0,
          eos_token_id=0), "ids"),
    # tiiuae/falcon-rw-1b: ALiBi, biases, sequential attention, no MQA
    ("falcon", "FalconModel", "FalconConfig",
     dict(vocab_size=V, hidden_size=H, num_hidden_layers=1,
          num_attention_heads=NH, alibi=True, bias=True,
          multi_query=False, parallel_attn=False,
          new_decoder_architecture=False, bos_token_id=0,
          eos_token_id=0), "ids"),
    # allenai/longformer-base-4096
    ("longformer", "LongformerModel", "LongformerConfig",
     dict(ROBERTA, attention_window=[4]), "ids"),
    # microsoft/deberta-v3-small
    ("deberta_v3", "DebertaV2Model", "DebertaV2Config",
     dict(TEXT, type_vocab_size=0, relative_attention=True,
          max_relative_positions=-1, position_buckets=8,
          norm_rel_ebd="layer_norm", share_att_key=True,
          pos_att_type=["p2c", "c2p"], position_biased_input=False),
     "ids"),
    # funnel-transformer/small (FunnelModel: encoder + decoder)
    ("funnel", "FunnelModel", "FunnelConfig",
     dict(vocab_size=V, block_sizes=[1, 1], num_decoder_layers=1,
          d_model=H, n_head=NH, d_head=8, d_inner=FF), "ids"),
    # camembert-base
    ("camembert", "CamembertModel", "CamembertConfig", ROBERTA, "ids"),
    # facebook/data2vec-text-base
    ("data2vec_text", "Data2VecTextModel", "Data2VecTextConfig", ROBERTA,
     "ids"),
    # google/pegasus-xsum (sinusoidal positions, pre-norm, final layer norms)
    ("pegasus", "PegasusModel", "PegasusConfig",
     dict(SEQ2SEQ, pad_token_id=0, eos_token_id=1,
          decoder_start_token_id=0, forced_eos_token_id=1), "seq2seq"),
    # microsoft/resnet-18: basic blocks
    ("resnet_hf", "ResNetModel", "ResNetConfig",
     dict(num_channels=3, embedding_size=8, hidden_sizes=[8, 16],
          depths=[1, 1], layer_type="basic"), "pixels16"),
    # microsoft/beit-base-patch16-224: relative position bias per layer,
    # layer scale, drop path, mean pooling.  Two layers: the drop-path rate
    # grows from 0 at the first layer, where it is an Identity
    ("beit", "BeitModel", "BeitConfig",
     dict(VISION, num_hidden_layers=2, vocab_size=V,
          use_absolute_position_embeddings=False,
          use_relative_position_bias=True,
          use_shared_relative_position_bias=False,
          layer_scale_init_value=0.1, drop_path_rate=0.1,
          use_mean_pooling=True), "pixels"),
    # nvidia/mit-b0 (2 of its 4 blocks here)
    ("segformer", "SegformerModel", "SegformerConfig",
     dict(num_channels=3, num_encoder_blocks=2, depths=[1, 1],
          sr_ratios=[2, 1], hidden_sizes=[8, 16], patch_sizes=[7, 3],
          strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2],
          drop_path_rate=0.1, decoder_hidden_size=16), "pixels16"),
    # google/mobilenet_v2_1.0_224 (all 17 blocks; channels floored at 8,
    # expansion 2 instead of 6)
    ("mobilenet", "MobileNetV2Model", "MobileNetV2Config",
     dict(num_channels=3, image_size=32, depth_multiplier=0.05, min_depth=8,
          expand_ratio=2.0,
          finegrained_output=False), "pixels32"),
    # facebook/hubert-base-ls960
    ("hubert", "HubertModel", "HubertConfig", SPEECH, "audio"),
    # xlnet-base-cased
    ("xlnet", "XLNetModel", "XLNetConfig",
     dict(vocab_size=V, d_model=H, n_layer=1, n_head=NH, d_inner=FF,
          bos_token_id=0, eos_token_id=2, pad_token_id=1), "ids"),
]

WEIGHT_NORM_IDS = {"wav2vec2", "hubert"}


def dtype_name(dt):
    return str(dt).removeprefix("torch.")


def qualname(obj_type):
    return obj_type.__module__ + "." + obj_type.__name__


def hub_state_dict(model):
    """model.state_dict() under the names save_pretrained() writes.

    transformers 5 renamed the modules of some models (ViT, Swin, DINOv2,
    BEiT, SegFormer: e.g. encoder.layer.0.attention.attention.query became
    layers.0.attention.q_proj) and save_pretrained() renames the keys back to
    the original checkpoint names (revert_weight_conversion, which also sorts
    them).  For these five the renaming is pure: every tensor is the model's
    own, under one other name (asserted)."""
    sd = model.state_dict()
    hub = revert_weight_conversion(model, dict(sd))
    if list(hub) == list(sd):
        return sd, None
    where = {id(v): k for k, v in sd.items()}
    assert len(where) == len(sd) == len(hub)
    renamed = {}
    for k, v in hub.items():
        assert id(v) in where, k
        renamed[k] = where[id(v)]
    assert sorted(renamed.values()) == sorted(sd)
    return hub, renamed


def tensor_list(sd):
    return {k: [dtype_name(v.dtype), list(v.shape)] for k, v in sd.items()}


def describe(model, hub=None, renamed=None):
    """The modules.json document for model."""
    modules = {}
    leaves = set()
    leaf_params = {}
    own_params = {}
    for path, m in model.named_modules():
        cls = qualname(type(m))
        modules[path] = cls
        mine = dict(m.named_parameters(recurse=False))
        if mine:
            own_params[path] = {n: [dtype_name(p.dtype), list(p.shape)]
                                for n, p in mine.items()}
        if next(m.children(), None) is None:
            leaves.add(cls)
            leaf_params[cls] = leaf_params.get(cls, False) or bool(mine)
    doc = {
        "class": qualname(type(model)),
        "modules": modules,
        "leaves": sorted(leaves),
        "leaf_params": {k: leaf_params[k] for k in sorted(leaf_params)},
        "own_params": own_params,
        "state_dict": tensor_list(hub if hub is not None
                                  else model.state_dict()),
    }
    if renamed is not None:
        doc["model_state_dict"] = tensor_list(model.state_dict())
        doc["renamed"] = renamed
    return doc


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


@contextlib.contextmanager
def legacy_weight_norm():
    """Make transformers fall back to torch.nn.utils.weight_norm (it uses
    the parametrization only when nn.utils.parametrizations has
    weight_norm)."""
    mod = torch.nn.utils.parametrizations
    saved = mod.weight_norm
    del mod.weight_norm
    try:
        yield
    finally:
        mod.weight_norm = saved


def build(spec, legacy=False):
    _, cls_name, cfg_name, kw, _ = spec
    cfg = getattr(transformers, cfg_name)(**kw)
    # As save_pretrained() fills them in.
    cfg.architectures = [cls_name]
    cfg.dtype = "float32"
    torch.manual_seed(0)
    with legacy_weight_norm() if legacy else contextlib.nullcontext():
        model = getattr(transformers, cls_name)(cfg)
    model.eval()
    return cfg, model


def smoke(spec, model):
    """One forward pass on a tiny input, proving the config is a model."""
    kind = spec[4]
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, V, (1, 8), generator=g)
    if kind == "ids":
        args = dict(input_ids=ids)
    elif kind == "seq2seq":
        args = dict(input_ids=ids, decoder_input_ids=ids[:, :4])
    elif kind.startswith("pixels"):
        side = int(kind[6:] or 8)
        args = dict(pixel_values=torch.randn(1, 3, side, side, generator=g))
    elif kind == "clip":
        args = dict(input_ids=ids,
                    pixel_values=torch.randn(1, 3, 8, 8, generator=g))
    elif kind == "whisper":
        args = dict(input_features=torch.randn(1, 8, 32, generator=g),
                    decoder_input_ids=ids[:, :4])
    elif kind == "audio":
        args = dict(input_values=torch.randn(1, 400, generator=g))
    else:
        raise ValueError(kind)
    with torch.no_grad():
        out = model(**args)
    t = out.logits_per_image if hasattr(out, "logits_per_image") else out[0]
    assert torch.isfinite(t).all(), spec[0]


def save_one(spec, outdir):
    mid = spec[0]
    d = os.path.join(outdir, mid)
    os.makedirs(d)
    legacy = mid in WEIGHT_NORM_IDS
    cfg, model = build(spec, legacy=legacy)
    hub, renamed = hub_state_dict(model)
    torch.save(hub, os.path.join(d, "pytorch_model.bin"))
    cfg.to_json_file(os.path.join(d, "config.json"))
    torch.save(model, os.path.join(d, "model.pt"))
    write_json(os.path.join(d, "modules.json"), describe(model, hub, renamed))
    smoke(spec, model)
    if legacy:
        # The layout current transformers gives (not picklable as a model).
        _, pmodel = build(spec, legacy=False)
        phub, prenamed = hub_state_dict(pmodel)
        assert prenamed is None
        torch.save(phub, os.path.join(d, "pytorch_model.parametrized.bin"))
        write_json(os.path.join(d, "modules.parametrized.json"),
                   describe(pmodel, phub))
        smoke(spec, pmodel)
    return model


def verify(outdir):
    """Read every file back with torch and transformers: the files hold what
    modules.json says, model.pt is the same model as pytorch_model.bin, and
    from_pretrained() loads the directory (Hub layout, Hub key names) with no
    missing or unexpected key, to the same weights."""
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
    for spec in SPECS:
        mid, cls_name = spec[0], spec[1]
        d = os.path.join(outdir, mid)
        with open(os.path.join(d, "modules.json")) as f:
            doc = json.load(f)
        sd = torch.load(os.path.join(d, "pytorch_model.bin"),
                        weights_only=True)
        assert tensor_list(sd) == doc["state_dict"], mid
        assert list(sd) == list(doc["state_dict"]), mid
        model = torch.load(os.path.join(d, "model.pt"), weights_only=False)
        assert describe(model, sd, doc.get("renamed")) == doc, mid
        msd = model.state_dict()
        renamed = doc.get("renamed") or {k: k for k in sd}
        for k, v in sd.items():
            assert torch.equal(v, msd[renamed[k]]), (mid, k)
        legacy = mid in WEIGHT_NORM_IDS
        with legacy_weight_norm() if legacy else contextlib.nullcontext():
            loaded, info = getattr(transformers, cls_name).from_pretrained(
                d, output_loading_info=True)
        assert not any(info[k] for k in ("missing_keys", "unexpected_keys",
                                          "mismatched_keys")), (mid, info)
        lsd = loaded.state_dict()
        assert list(lsd) == list(msd), mid
        assert all(torch.equal(lsd[k], msd[k]) for k in msd), mid
        if legacy:
            psd = torch.load(os.path.join(d, "pytorch_model.parametrized.bin"),
                             weights_only=True)
            _, pmodel = build(spec)
            pmodel.load_state_dict(psd, strict=True)
            with open(os.path.join(d, "modules.parametrized.json")) as f:
                assert describe(pmodel, psd) == json.load(f), mid


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/hf"
    if os.environ.get("T2M_HF_ANY_VERSION") != "1":
        have = {"transformers": transformers.__version__,
                "torch": torch.__version__.split("+")[0]}
        if have != VERSIONS:
            sys.exit(f"gen-hf-corpus: want {VERSIONS}, have {have} "
                     "(T2M_HF_ANY_VERSION=1 to go on anyway)")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    # Keep README (written by hand) but rebuild every model directory.
    os.makedirs(outdir, exist_ok=True)
    for spec in SPECS:
        d = os.path.join(outdir, spec[0])
        if os.path.isdir(d):
            shutil.rmtree(d)
    for spec in SPECS:
        model = save_one(spec, outdir)
        n = sum(p.numel() for p in model.parameters())
        print(f"{spec[0]:14s} {spec[1]:18s} {n:7d} parameters")
    verify(outdir)
    print(f"verified {len(SPECS)} models in {outdir}")


if __name__ == "__main__":
    main()
