// `infini eval gates`: each head's gate sigmoid(β) of a checkpoint, the paper's Figure 3 as text
// and JSON.
#include "cli/commands.h"
#include "cli/output.h"
#include "core/errors.h"
#include "eval/gates.h"
#include "eval/provenance.h"
#include "model/checkpoint.h"

namespace infini::cli {

namespace {

struct GatesFlags {
  std::string checkpoint;
  std::string out;
};

void run_gates(const GatesFlags& flags) {
  require_output_file(flags.out);
  Decoder decoder = load_model(flags.checkpoint);
  const auto gates = gate_statistics(decoder);
  if (gates.empty()) throw InputError(flags.checkpoint + ": the model has no infini layers, so no gates");
  for (const auto& layer : gates) {
    std::string heads;
    for (const double v : layer.values) {
      const auto kind = gate_class(v);
      heads += fmt::format(" {:.3f}{}", v, kind == "memory" ? "M" : kind == "local" ? "L" : "x");
    }
    spdlog::info("layer {:>2}: mean {:.3f}, {} memory / {} local / {} mixer heads (M/L/x):{}", layer.layer, layer.mean,
                 layer.memory_heads, layer.local_heads,
                 static_cast<int64_t>(layer.values.size()) - layer.memory_heads - layer.local_heads, heads);
  }
  const GatesResult result{flags.checkpoint, model_config_to_json(decoder->config()), gates,
                           provenance_of(flags.checkpoint, "")};
  emit_json(result.to_json(), flags.out);
}

}  // namespace

void add_eval_gates_command(CLI::App& eval) {
  auto flags = std::make_shared<GatesFlags>();
  auto* gates = eval.add_subcommand("gates", "Each head's gate sigmoid(β), classed memory (> 0.9), local (< 0.1) or mixer");
  gates->add_option("--checkpoint", flags->checkpoint, "Checkpoint directory")->required();
  gates->add_option("--out", flags->out, "Write the JSON here instead of standard output");
  gates->callback([flags] { run_gates(*flags); });
}

}  // namespace infini::cli
