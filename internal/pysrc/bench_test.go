package pysrc

import (
	"strings"
	"testing"
)

// modelingFile is a synthetic modeling file of about 200 KB, the size of
// a large transformers modeling_*.py.
func modelingFile() []byte {
	var b strings.Builder
	b.WriteString("import math\nimport os\nfrom typing import Optional, Tuple\nimport torch\nfrom torch import nn\nfrom .configuration_x import XConfig\n\n")
	for i := 0; b.Len() < 200_000; i++ {
		b.WriteString("class Block")
		b.WriteString(strings.Repeat("X", i%7))
		b.WriteString("(nn.Module):\n    \"\"\"A block.\n\n    Args:\n        config: the config\n    \"\"\"\n")
		b.WriteString("    def __init__(self, config: XConfig):\n        super().__init__()\n        self.proj = nn.Linear(config.hidden_size, 4 * config.hidden_size, bias=False)\n")
		b.WriteString("        self.act = nn.GELU()  # activation\n\n    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor]:\n")
		b.WriteString("        h = self.act(self.proj(x)) / math.sqrt(x.shape[-1])\n        path = os.path.join('a', f'{x.shape}')\n        return (h,)\n\n")
	}
	return []byte(b.String())
}

func BenchmarkAnalyze(b *testing.B) {
	src := modelingFile()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		Analyze(src)
	}
}
