#include "train/initial_model.h"

#include <spdlog/spdlog.h>

#include "core/errors.h"
#include "model/checkpoint.h"
#include "model/convert.h"

namespace infini {

void complete_from_init(RunConfig& config, const std::string& origin) {
  if (config.init.from.empty()) return;
  ModelConfig base;
  try {
    base = read_model_config(config.init.from);
  } catch (const InputError& e) {
    throw InputError(origin + ": init.from: " + e.what());
  }
  if (config.data.tokenizer.empty()) config.data.tokenizer = tokenizer_path(config.init.from);
  if (!config.model_complete) complete_model(config, base, origin);
}

Decoder initial_model(const RunConfig& config) {
  if (config.init.from.empty()) {
    Decoder model(config.model);
    model->initialise(static_cast<uint64_t>(config.run.seed));
    if (config.init.gate_init) model->set_gates(*config.init.gate_init);
    return model;
  }
  Decoder source = load_model(config.init.from);
  Decoder model = convert_weights(source, config.model, config.init.gate_init.value_or(kConvertedGateInit));
  if (config.init.gate_init) model->set_gates(*config.init.gate_init);
  spdlog::info("initialised from {} ({} → {} attention)", config.init.from,
               attention_kind_name(source->config().attention.kind), attention_kind_name(config.model.attention.kind));
  return model;
}

}  // namespace infini
