package kerascfg

import "strings"

// kerasNamespaces are the modules whose classes and functions Keras itself
// serializes: layers, models, initializers, regularizers, constraints,
// activations, optimizers, losses, metrics, dtype policies, random seed
// generators and ops, in the public API and under keras.src. They are
// listed precisely: keras.utils (get_file), keras.saving, keras.config
// (enable_unsafe_deserialization) and the rest of keras.* are not in it.
var kerasNamespaces = []string{
	"keras.layers", "keras.models", "keras.initializers", "keras.regularizers", "keras.constraints",
	"keras.activations", "keras.optimizers", "keras.losses", "keras.metrics", "keras.mixed_precision",
	"keras.dtype_policies", "keras.random", "keras.ops", "keras.quantizers", "keras.callbacks",
	"keras.src.layers", "keras.src.models", "keras.src.engine", "keras.src.initializers",
	"keras.src.regularizers", "keras.src.constraints", "keras.src.activations", "keras.src.optimizers",
	"keras.src.losses", "keras.src.metrics", "keras.src.dtype_policies", "keras.src.mixed_precision",
	"keras.src.random", "keras.src.ops", "keras.src.quantizers", "keras.src.backend.common.variables",
	"keras.src.backend.common.keras_tensor", "keras.src.backend.common.dtypes",
	// tf.keras 2.x module paths in newer-style configs
	"keras.engine", "keras.src.engine.functional", "keras.src.engine.sequential",
	"tf_keras.src.layers", "tf_keras.src.engine", "tf_keras.src.initializers", "tf_keras.src.regularizers",
	"tf_keras.src.constraints", "tf_keras.src.activations", "tf_keras.src.optimizers", "tf_keras.src.losses",
	"tf_keras.src.metrics", "tf_keras.src.mixed_precision", "tf_keras.src.models",
	// Keras' own model libraries (the packages Keras 3.9+ still imports from)
	"keras_hub.models", "keras_hub.layers", "keras_hub.tokenizers", "keras_hub.samplers",
	"keras_hub.src.models", "keras_hub.src.layers", "keras_hub.src.tokenizers", "keras_hub.src.samplers",
	"keras_nlp.models", "keras_nlp.layers", "keras_nlp.tokenizers", "keras_nlp.samplers",
	"keras_nlp.src.models", "keras_nlp.src.layers", "keras_nlp.src.tokenizers", "keras_nlp.src.samplers",
	"keras_cv.models", "keras_cv.layers", "keras_cv.src.models", "keras_cv.src.layers",
}

// kerasTopLevel are the names Keras serializes with module "keras".
var kerasTopLevel = set(
	"Sequential", "Model", "Functional", "Input", "InputLayer", "InputSpec", "Layer", "Loss", "Metric",
	"Optimizer", "Initializer", "Regularizer", "Constraint", "Variable", "KerasTensor", "Operation",
	"DTypePolicy", "FloatDTypePolicy", "QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy",
	"DTypePolicyMap", "Quantizer", "RematScope", "StatelessScope", "SymbolicScope", "Function",
)

// gadgetPrefixes are Keras internals that touch files, download, load
// further models or switch off the loader's safety checks: reaching them
// from a config is an attack (CVE-2025-8747: keras.utils.get_file;
// CVE-2025-9906: keras.config.enable_unsafe_deserialization).
var gadgetPrefixes = []string{
	"keras.utils.", "keras.src.utils.", "keras.config.", "keras.src.backend.config.", "keras.saving.",
	"keras.src.saving.", "keras.models.load_model", "keras.export.", "keras.src.export.",
	"keras.src.legacy.saving.", "keras.backend.", "keras.src.backend.tensorflow.", "keras.src.backend.torch.",
	"keras.src.backend.jax.", "keras.src.backend.numpy.", "keras.datasets.", "keras.src.datasets.",
	"keras.preprocessing.", "keras.src.legacy.preprocessing.", "keras.applications.", "keras.src.applications.",
	"tf_keras.src.utils.", "tf_keras.src.saving.", "keras_hub.src.utils.", "keras_nlp.src.utils.", "keras_cv.src.utils.",
	"keras_hub.utils.", "keras_nlp.utils.", "keras_cv.utils.",
}

// deniedClasses are Keras classes that run code or load files whatever
// module names them.
var deniedClasses = map[string]string{
	"Lambda":             "Lambda",
	"TorchModuleWrapper": "TorchModuleWrapper",
	"TFSMLayer":          "TFSMLayer",
}

func inNamespace(module string, ns []string) bool {
	for _, p := range ns {
		if module == p || strings.HasPrefix(module, p+".") {
			return true
		}
	}
	return false
}

func isGadget(target string) bool {
	for _, p := range gadgetPrefixes {
		if strings.HasPrefix(target, p) || (len(target)+1 == len(p) && strings.HasPrefix(p, target)) {
			return true
		}
	}
	return false
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// builtinClasses are the class names Keras 1, 2 and 3 resolve by name
// alone (configs without a module key): layers, models, initializers,
// regularizers, constraints, optimizers, schedules, losses, metrics and
// policies. Anything else in such a config is a custom object the loader
// must be given, listed as information.
var builtinClasses = set(
	// models and inputs
	"Sequential", "Functional", "Model", "InputLayer", "Input", "Network", "Lambda", "TorchModuleWrapper", "TFSMLayer",
	"JaxLayer", "FlaxLayer",
	// core and activation layers
	"Dense", "EinsumDense", "Activation", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
	"GaussianNoise", "GaussianDropout", "AlphaDropout", "Flatten", "Reshape", "Permute", "RepeatVector",
	"Masking", "Identity", "Embedding", "ActivityRegularization", "ReLU", "LeakyReLU", "PReLU", "ELU",
	"Softmax", "ThresholdedReLU", "Wrapper",
	// convolution and pooling
	"Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "SeparableConv1D",
	"SeparableConv2D", "DepthwiseConv1D", "DepthwiseConv2D", "Convolution1D", "Convolution2D", "Convolution3D",
	"Deconvolution2D", "Deconvolution3D", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "LocallyConnected1D",
	"LocallyConnected2D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
	"AveragePooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
	"GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAveragePooling1D",
	"GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D",
	"GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D", "Cropping1D", "Cropping2D", "Cropping3D",
	"UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
	// recurrent
	"SimpleRNN", "GRU", "LSTM", "SimpleRNNCell", "GRUCell", "LSTMCell", "RNN", "StackedRNNCells",
	"Bidirectional", "TimeDistributed", "CuDNNGRU", "CuDNNLSTM", "GRUV2", "LSTMV2",
	// normalization, attention, merging
	"BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
	"SyncBatchNormalization", "SpectralNormalization", "RMSNormalization", "Attention", "AdditiveAttention",
	"MultiHeadAttention", "GroupedQueryAttention", "Add", "Subtract", "Multiply", "Average", "Maximum",
	"Minimum", "Concatenate", "Dot", "TFOpLambda", "SlicingOpLambda", "InstanceNormalization",
	// preprocessing
	"Rescaling", "Normalization", "Resizing", "CenterCrop", "RandomCrop", "RandomFlip", "RandomRotation",
	"RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness", "RandomHeight", "RandomWidth",
	"TextVectorization", "StringLookup", "IntegerLookup", "CategoryEncoding", "Hashing", "HashedCrossing",
	"Discretization", "DenseFeatures", "AutoContrast", "Solarization", "MelSpectrogram",
	"STFTSpectrogram", "RandomGrayscale", "RandomHue", "RandomSaturation", "RandomColorJitter", "Pipeline",
	// initializers
	"GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal", "Zeros", "Ones",
	"Constant", "RandomUniform", "RandomNormal", "TruncatedNormal", "VarianceScaling", "Orthogonal",
	"Identity", "IdentityInitializer", "OrthogonalInitializer", "STFTInitializer",
	// regularizers and constraints
	"L1", "L2", "L1L2", "OrthogonalRegularizer", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm",
	"RadialConstraint",
	// optimizers and schedules
	"Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl", "Lion", "Lamb",
	"Adafactor", "Muon", "LossScaleOptimizer", "LossScaleOptimizerV3", "ExponentialDecay",
	"PiecewiseConstantDecay", "PolynomialDecay", "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts",
	// losses
	"BinaryCrossentropy", "BinaryFocalCrossentropy", "CategoricalCrossentropy", "CategoricalFocalCrossentropy",
	"SparseCategoricalCrossentropy", "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
	"MeanSquaredLogarithmicError", "CosineSimilarity", "Huber", "LogCosh", "Poisson", "KLDivergence", "Hinge",
	"SquaredHinge", "CategoricalHinge", "Tversky", "Dice", "CTC", "Circle",
	// metrics
	"Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
	"SparseTopKCategoricalAccuracy", "AUC", "Precision", "Recall", "MeanIoU", "IoU", "BinaryIoU", "OneHotIoU",
	"OneHotMeanIoU", "Mean", "Sum", "MeanMetricWrapper", "MeanTensor", "RootMeanSquaredError", "F1Score",
	"FBetaScore", "R2Score", "TruePositives", "TrueNegatives", "FalsePositives", "FalseNegatives",
	"PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity", "SpecificityAtSensitivity",
	"PearsonCorrelation", "ConcordanceCorrelation",
	// dtype policies
	"Policy", "DTypePolicy", "FloatDTypePolicy", "QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy",
	"DTypePolicyMap", "TensorShape", "InputSpec",
)

// kerasFunctions are the functions Keras resolves by bare name (Keras 3
// saves them with module "builtins" or a keras.* module): activations,
// losses, metrics and initializers.
var kerasFunctions = set(
	"relu", "relu6", "leaky_relu", "sigmoid", "softmax", "softplus", "softsign", "tanh", "selu", "elu",
	"celu", "exponential", "hard_sigmoid", "hard_silu", "hard_swish", "linear", "swish", "silu", "gelu",
	"glu", "mish", "log_softmax", "log_sigmoid", "hard_tanh", "soft_shrink", "hard_shrink", "tanh_shrink",
	"squareplus", "sparse_plus", "sparsemax", "threshold",
	"mean_squared_error", "mse", "mean_absolute_error", "mae", "mean_absolute_percentage_error", "mape",
	"mean_squared_logarithmic_error", "msle", "binary_crossentropy", "categorical_crossentropy",
	"sparse_categorical_crossentropy", "binary_focal_crossentropy", "categorical_focal_crossentropy",
	"kl_divergence", "kld", "kullback_leibler_divergence", "poisson", "cosine_similarity", "hinge",
	"squared_hinge", "categorical_hinge", "huber", "log_cosh", "logcosh", "ctc", "dice", "tversky",
	"accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
	"top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "crossentropy",
	"glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal", "zeros",
	"ones", "random_uniform", "random_normal", "truncated_normal", "orthogonal", "identity", "constant",
	"variance_scaling",
)
