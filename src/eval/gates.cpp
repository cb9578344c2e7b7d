#include "eval/gates.h"

#include "core/errors.h"
#include "core/json_fields.h"
#include "eval/result_header.h"

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
  for (auto gates : layers) {
    auto json = JsonFieldWriter::to_json_object(gates);
    auto classes = nlohmann::json::array();
    for (double v : gates.values) classes.push_back(gate_class(v));
    json["classes"] = classes;
    json["mixer_heads"] = static_cast<int64_t>(gates.values.size()) - gates.memory_heads - gates.local_heads;
    out.push_back(json);
  }
  return out;
}

nlohmann::json GatesResult::to_json() const {
  auto json = result_json("gates", *this);
  json["gates"] = gates_to_json(gates);
  return json;
}

GatesResult GatesResult::from_json(const nlohmann::json& json, const std::string& where) {
  auto result = read_result<GatesResult>(json, where, "gates");
  if (result.gates.empty()) JsonReader(json, where).fail("gates", "a non-empty list of layers");
  return result;
}

}  // namespace infini
