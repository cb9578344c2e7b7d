#include "eval/gates.h"

namespace infini {

std::vector<LayerGates> gate_statistics(const Decoder& decoder) {
  std::vector<LayerGates> out;
  const auto& layers = decoder->model->layers;
  for (size_t i = 0; i < layers.size(); ++i) {
    auto values = layers[i]->self_attn->gate_values();
    if (!values.defined()) continue;
    auto cpu = values.to(torch::kFloat64).cpu();
    LayerGates gates;
    gates.layer = static_cast<int64_t>(i);
    gates.values.assign(cpu.data_ptr<double>(), cpu.data_ptr<double>() + cpu.numel());
    for (double v : gates.values) {
      gates.mean += v / static_cast<double>(gates.values.size());
      gates.local_heads += v < kLocalGate;
      gates.memory_heads += v > kMemoryGate;
    }
    out.push_back(std::move(gates));
  }
  return out;
}

std::string gate_class(double value) {
  if (value > kMemoryGate) return "memory";
  if (value < kLocalGate) return "local";
  return "mixer";
}

nlohmann::json gates_to_json(const std::vector<LayerGates>& layers) {
  auto out = nlohmann::json::array();
  for (const auto& gates : layers) {
    auto classes = nlohmann::json::array();
    for (double v : gates.values) classes.push_back(gate_class(v));
    const auto heads = static_cast<int64_t>(gates.values.size());
    out.push_back({{"layer", gates.layer},
                   {"values", gates.values},
                   {"classes", classes},
                   {"mean", gates.mean},
                   {"memory_heads", gates.memory_heads},
                   {"local_heads", gates.local_heads},
                   {"mixer_heads", heads - gates.memory_heads - gates.local_heads}});
  }
  return out;
}

}  // namespace infini
