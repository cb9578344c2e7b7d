// Gate statistics: per layer, the heads' sigmoid(β), the share of each head's output read from
// memory (Eq. 10). Heads near 1 are memory-specialised, near 0 local-specialised, between them
// mixers (the paper's Figure 3). Gates that all stay at 0.5 are the failure public ports hit.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/schema.h"
#include "eval/provenance.h"
#include "model/decoder.h"

namespace infini {

struct LayerGates {
  int64_t layer = 0;
  std::vector<double> values;  // sigmoid(β) per query head
  double mean = 0.0;
  int64_t local_heads = 0;   // below 0.1
  int64_t memory_heads = 0;  // above 0.9
};

template <class F>
void fields(F& f, LayerGates& g) {
  f("layer", g.layer, required_at_least(0));
  f("values", g.values, required_key());
  f("mean", g.mean, required_key());
  f("local_heads", g.local_heads, required_at_least(0));
  f("memory_heads", g.memory_heads, required_at_least(0));
}

// What `eval gates` writes: {"kind": "gates", "schema", "checkpoint", "model", "gates"}.
struct GatesResult {
  std::string checkpoint;
  nlohmann::json model;  // the checkpoint's config.json
  std::vector<LayerGates> gates;
  Provenance provenance;

  nlohmann::json to_json() const;
  static GatesResult from_json(const nlohmann::json& json, const std::string& where);
};

template <class F>
void fields(F& f, GatesResult& r) {
  f("checkpoint", r.checkpoint, required_key());
  f("model", r.model, required_key());
  f.list("gates", r.gates, required_key());
  f.section("provenance", r.provenance);
}

constexpr double kLocalGate = 0.1, kMemoryGate = 0.9;

// One entry per infini layer, in layer order.
std::vector<LayerGates> gate_statistics(const Decoder& decoder);

// "memory" (> 0.9), "local" (< 0.1) or "mixer".
std::string gate_class(double value);

// [{"layer", "values", "classes", "mean", "memory_heads", "local_heads", "mixer_heads"}...]
nlohmann::json gates_to_json(const std::vector<LayerGates>& layers);

}  // namespace infini
