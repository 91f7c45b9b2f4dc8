/*
 * rules.c - the table of layout rules (rules.h).  Sources: MLX's layer
 * definitions (python/mlx/nn/layers) and its tests, which build torch
 * weights from MLX ones: conv1d transpose(0,2,1), conv2d (0,3,1,2),
 * conv_transpose1d (2,0,1) - the inverses of the permutes here.
 */
#include <stdio.h>
#include <string.h>

#include "rules.h"

#define NN "torch.nn."
#define ID(t, m) { t, NN, "mlx.nn." m, RK_IDENTITY, 0, ST_CONVERTIBLE, NULL }
/* No parameters: an MLX layer of its own, or code to write by hand. */
#define FREE(t, m) { t, NN, "mlx.nn." m, RK_IDENTITY, 0, ST_CONVERTIBLE, NULL }
#define BYHAND(t, note) { t, NN, NULL, RK_IDENTITY, 0, ST_ATTENTION, note }

static const struct t2m_rule table[] = {
	ID("Linear", "Linear"),
	ID("LazyLinear", "Linear"),
	ID("NonDynamicallyQuantizableLinear", "Linear"),
	ID("Identity", "Identity"),
	ID("Embedding", "Embedding"),
	ID("LayerNorm", "LayerNorm"),
	ID("RMSNorm", "RMSNorm"),
	{ "GroupNorm", NN, "mlx.nn.GroupNorm", RK_IDENTITY, 0, ST_CONVERTIBLE,
	    "build the MLX layer with pytorch_compatible=True" },
	{ "PReLU", NN, "mlx.nn.PReLU", RK_IDENTITY, 0, ST_CONVERTIBLE,
	    "MLX applies it on the last axis: channels last" },
	{ "Conv1d", NN, "mlx.nn.Conv1d", RK_CONV, 1, ST_CONVERTIBLE, NULL },
	{ "Conv2d", NN, "mlx.nn.Conv2d", RK_CONV, 2, ST_CONVERTIBLE, NULL },
	{ "Conv3d", NN, "mlx.nn.Conv3d", RK_CONV, 3, ST_CONVERTIBLE,
	    "MLX's Conv3d has no groups" },
	{ "ConvTranspose1d", NN, "mlx.nn.ConvTranspose1d", RK_CONVT, 1,
	    ST_CONVERTIBLE, "MLX's ConvTranspose layers have no groups" },
	{ "ConvTranspose2d", NN, "mlx.nn.ConvTranspose2d", RK_CONVT, 2,
	    ST_CONVERTIBLE, "MLX's ConvTranspose layers have no groups" },
	{ "ConvTranspose3d", NN, "mlx.nn.ConvTranspose3d", RK_CONVT, 3,
	    ST_CONVERTIBLE, "MLX's ConvTranspose layers have no groups" },
	{ "Bilinear", NN, "mlx.nn.Bilinear", RK_BILINEAR, 0, ST_CONVERTIBLE,
	    NULL },
	{ "Conv1D", "transformers.", "mlx.nn.Linear", RK_LINEAR_T, 0,
	    ST_CONVERTIBLE, "Hugging Face's GPT-2 Conv1D is a Linear with "
	    "its weight transposed" },
	{ "BatchNorm1d", NN, "mlx.nn.BatchNorm", RK_BATCHNORM, 0,
	    ST_CONVERTIBLE, NULL },
	{ "BatchNorm2d", NN, "mlx.nn.BatchNorm", RK_BATCHNORM, 0,
	    ST_CONVERTIBLE, NULL },
	{ "BatchNorm3d", NN, "mlx.nn.BatchNorm", RK_BATCHNORM, 0, ST_ATTENTION,
	    "MLX's BatchNorm takes at most 4-D input" },
	{ "SyncBatchNorm", NN, "mlx.nn.BatchNorm", RK_BATCHNORM, 0,
	    ST_CONVERTIBLE, NULL },
	{ "InstanceNorm1d", NN, "mlx.nn.InstanceNorm", RK_INSTANCENORM, 0,
	    ST_CONVERTIBLE, "MLX always uses instance statistics" },
	{ "InstanceNorm2d", NN, "mlx.nn.InstanceNorm", RK_INSTANCENORM, 0,
	    ST_CONVERTIBLE, "MLX always uses instance statistics" },
	{ "InstanceNorm3d", NN, "mlx.nn.InstanceNorm", RK_INSTANCENORM, 0,
	    ST_CONVERTIBLE, "MLX always uses instance statistics" },
	{ "MultiheadAttention", NN, "mlx.nn.MultiHeadAttention", RK_MHA, 0,
	    ST_CONVERTIBLE, "build the MLX layer with bias=True when the "
	    "torch one has biases" },
	{ "RNN", NN, "mlx.nn.RNN", RK_RNN, 0, ST_CONVERTIBLE,
	    "one MLX module per layer and direction" },
	{ "LSTM", NN, "mlx.nn.LSTM", RK_LSTM, 0, ST_CONVERTIBLE,
	    "one MLX module per layer and direction" },
	{ "GRU", NN, "mlx.nn.GRU", RK_GRU, 0, ST_CONVERTIBLE,
	    "one MLX module per layer and direction" },
	/* Layers without parameters: activations, pooling, shapes. */
	FREE("ReLU", "ReLU"), FREE("ReLU6", "ReLU6"),
	FREE("GELU", "GELU"), FREE("SiLU", "SiLU"),
	FREE("Tanh", "Tanh"), FREE("Sigmoid", "Sigmoid"),
	FREE("Softmax", "Softmax"), FREE("LogSoftmax", "LogSoftmax"),
	FREE("Softmin", "Softmin"), FREE("ELU", "ELU"),
	FREE("CELU", "CELU"), FREE("SELU", "SELU"),
	FREE("LeakyReLU", "LeakyReLU"), FREE("Mish", "Mish"),
	FREE("Hardswish", "Hardswish"), FREE("Hardtanh", "HardTanh"),
	FREE("Softplus", "Softplus"), FREE("Softsign", "Softsign"),
	FREE("Softshrink", "Softshrink"),
	FREE("Hardshrink", "HardShrink"),
	FREE("GLU", "GLU"), FREE("LogSigmoid", "LogSigmoid"),
	FREE("Dropout", "Dropout"), FREE("Dropout1d", "Dropout"),
	FREE("Dropout2d", "Dropout2d"), FREE("Dropout3d", "Dropout3d"),
	FREE("AlphaDropout", "Dropout"),
	FREE("MaxPool1d", "MaxPool1d"), FREE("MaxPool2d", "MaxPool2d"),
	FREE("MaxPool3d", "MaxPool3d"), FREE("AvgPool1d", "AvgPool1d"),
	FREE("AvgPool2d", "AvgPool2d"), FREE("AvgPool3d", "AvgPool3d"),
	BYHAND("AdaptiveAvgPool1d", "MLX has no adaptive pooling: use a "
	    "mean over the spatial axes"),
	BYHAND("AdaptiveAvgPool2d", "MLX has no adaptive pooling: use a "
	    "mean over the spatial axes"),
	BYHAND("AdaptiveAvgPool3d", "MLX has no adaptive pooling: use a "
	    "mean over the spatial axes"),
	BYHAND("AdaptiveMaxPool1d", "MLX has no adaptive pooling"),
	BYHAND("AdaptiveMaxPool2d", "MLX has no adaptive pooling"),
	FREE("Upsample", "Upsample"),
	BYHAND("Flatten", "reshape by hand (channels last)"),
	BYHAND("Unflatten", "reshape by hand"),
	/* Containers: their children carry the parameters. */
	FREE("Sequential", "Sequential"),
	BYHAND("ModuleList", "a list of modules"),
	BYHAND("ModuleDict", "a dict of modules"),
	BYHAND("TransformerEncoder", "mirror the torch module tree"),
	BYHAND("TransformerEncoderLayer", "mirror the torch module tree"),
	BYHAND("TransformerDecoder", "mirror the torch module tree"),
	BYHAND("TransformerDecoderLayer", "mirror the torch module tree"),
	BYHAND("Transformer", "mirror the torch module tree"),
	BYHAND("ParametrizationList", "weight norm: folded into weight"),
	BYHAND("_WeightNorm", "weight norm: folded into weight"),
	/* Hugging Face's own layers (transformers.*). */
#define HF(t, m, note) { t, "transformers.", m, RK_IDENTITY, 0, \
	note ? ST_ATTENTION : ST_CONVERTIBLE, note }
	HF("FalconLinear", "mlx.nn.Linear", NULL),
	HF("BartLearnedPositionalEmbedding", "mlx.nn.Embedding",
	    "positions are offset by 2"),
	HF("BartScaledWordEmbedding", "mlx.nn.Embedding",
	    "scaled by sqrt(d_model) in forward"),
	HF("OPTLearnedPositionalEmbedding", "mlx.nn.Embedding",
	    "positions are offset by 2"),
	HF("PegasusSinusoidalPositionalEmbedding", "mlx.nn.Embedding", NULL),
	HF("WhisperPositionalEmbedding", "mlx.nn.Embedding", NULL),
	HF("T5LayerNorm", "mlx.nn.RMSNorm", NULL),
	HF("Qwen2RMSNorm", "mlx.nn.RMSNorm", NULL),
	HF("DebertaLayerNorm", "mlx.nn.LayerNorm", NULL),
	HF("ConvNextLayerNorm", "mlx.nn.LayerNorm",
	    "channels_first data: normalize the channel axis"),
	HF("Dinov2LayerScale", NULL, "a learned scale (lambda1): multiply"),
	HF("BeitRelativePositionBias", NULL, "a learned bias table"),
	HF("SwinRelativePositionBias", NULL, "a learned bias table"),
	HF("GELUActivation", "mlx.nn.GELU", NULL),
	HF("NewGELUActivation", "mlx.nn.GELU", "approx=\"precise\" (tanh)"),
	HF("QuickGELUActivation", "mlx.nn.GELU", "approx=\"fast\""),
	HF("FastGELUActivation", "mlx.nn.GELU", "approx=\"precise\" (tanh)"),
	HF("SiLUActivation", "mlx.nn.SiLU", NULL),
	HF("BloomGelu", "mlx.nn.GELU", "approx=\"precise\" (tanh)"),
	HF("Qwen2RotaryEmbedding", "mlx.nn.RoPE", "computed, no weights"),
	HF("GPTNeoXRotaryEmbedding", "mlx.nn.RoPE", "computed, no weights"),
	HF("FalconRotaryEmbedding", "mlx.nn.RoPE", "computed, no weights"),
	HF("CodeGenRotaryEmbedding", "mlx.nn.RoPE", "computed, no weights"),
	HF("SwinDropPath", "mlx.nn.Identity", NULL),
	HF("BeitDropPath", "mlx.nn.Identity", NULL),
	HF("SegformerDropPath", "mlx.nn.Identity", NULL),
	HF("Wav2Vec2SamePadLayer", NULL, "drops the last time step"),
	HF("HubertSamePadLayer", NULL, "drops the last time step"),
#undef HF
	/* What t2m-transpose calls the owner of parameters no heuristic
	 * names: they pass unchanged. */
	{ "Parameters", "t2m.", NULL, RK_IDENTITY, 0, ST_ATTENTION,
	    "parameters of a module t2m cannot name, passed unchanged" },
};

const struct t2m_rule *
t2m_rules(unsigned *n)
{
	*n = sizeof table / sizeof table[0];
	return table;
}

const struct t2m_rule *
t2m_rule_for(const char *q)
{
	const char *dot = strrchr(q, '.'), *name = dot ? dot + 1 : q;
	size_t k;

	for (k = 0; k < sizeof table / sizeof table[0]; k++)
		if (strcmp(table[k].torch, name) == 0 &&
		    (dot == NULL ? strcmp(table[k].where, NN) == 0 :
		    strncmp(q, table[k].where, strlen(table[k].where)) == 0))
			return &table[k];
	return NULL;
}

const char *
t2m_rule_kind_name(int kind)
{
	static const char *const names[] = {
		"identity", "conv", "conv-transpose", "bilinear",
		"linear-transposed", "batchnorm", "instancenorm",
		"multihead-attention", "rnn", "lstm", "gru"
	};

	return kind >= 0 && kind < (int)(sizeof names / sizeof names[0]) ?
	    names[kind] : "?";
}

/* The rule for a class, looking through weight norm's Parametrized. */
const struct t2m_rule *
t2m_class_rule(const char *cls)
{
	const struct t2m_rule *r;
	const char *dot = strrchr(cls, '.');
	char buf[256];

	if ((r = t2m_rule_for(cls)) != NULL)
		return r;
	if (dot && strncmp(dot + 1, "Parametrized", 12) == 0) {
		snprintf(buf, sizeof buf, "torch.nn.%s", dot + 13);
		return t2m_rule_for(buf);
	}
	if (strcmp(cls, "torch.nn.modules.batchnorm.BatchNorm") == 0)
		return t2m_rule_for("torch.nn.BatchNorm2d");
	return NULL;
}
