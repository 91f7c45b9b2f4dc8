/*
 * rules.h - the layout rules: for each PyTorch layer class with an MLX
 * counterpart, the MLX class and what happens to each parameter.  One
 * table drives t2m-transpose (apply), t2m-transpose -r (invert),
 * t2m-analyze (coverage) and the rule list in t2m-transpose(1), which a
 * test keeps in step with it.
 */
#ifndef T2M_RULES_H
#define T2M_RULES_H

enum t2m_rule_kind {
	RK_IDENTITY,		/* parameters unchanged */
	RK_CONV,		/* weight (O, I, k...) -> (O, k..., I) */
	RK_CONVT,		/* weight (I, O, k...) -> (O, k..., I) */
	RK_BILINEAR,		/* weight (O, I1, I2) -> (O, I2, I1) */
	RK_LINEAR_T,		/* HF Conv1D: weight (in, out) -> (out, in) */
	RK_BATCHNORM,		/* num_batches_tracked dropped */
	RK_INSTANCENORM,	/* running statistics dropped */
	RK_MHA,			/* in_proj split into query/key/value_proj */
	RK_RNN, RK_LSTM, RK_GRU	/* one MLX module per layer, biases merged */
};

enum t2m_status {
	ST_CONVERTIBLE,		/* weights convert and MLX has the layer */
	ST_ATTENTION,		/* weights convert; the MLX code needs care */
	ST_UNSUPPORTED		/* no MLX counterpart */
};

struct t2m_rule {
	const char *torch;	/* class name, "Conv2d" */
	const char *where;	/* required module prefix: "torch.nn.", ... */
	const char *mlx;	/* "mlx.nn.Conv2d", or NULL */
	int kind;
	int spatial;		/* conv: 1, 2 or 3 spatial dimensions */
	int status;
	const char *note;	/* what the user should know, or NULL */
};

/* The rule for a class given by its qualified name, or NULL. */
const struct t2m_rule *t2m_rule_for(const char *qualname);
/* The rule for a class as found in a file or a type map: as
 * t2m_rule_for, and torch's weight-norm "Parametrized" subclasses stand
 * for their base class. */
const struct t2m_rule *t2m_class_rule(const char *cls);
/* The whole table, for listings; *n gets its length. */
const struct t2m_rule *t2m_rules(unsigned *n);
/* A short name for a rule kind, as the manifest and reports give it. */
const char *t2m_rule_kind_name(int kind);

#endif
