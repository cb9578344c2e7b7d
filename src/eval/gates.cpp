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

nlohmann::json gates_to_json(const std::vector<LayerGates>& gates) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& g : gates) {
    out.push_back({{"layer", g.layer},
                   {"mean", g.mean},
                   {"local_heads", g.local_heads},
                   {"memory_heads", g.memory_heads},
                   {"values", g.values}});
  }
  return out;
}

}  // namespace infini
