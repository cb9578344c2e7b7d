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

}  // namespace infini
