#include "model/convert.h"

#include "core/errors.h"
#include "model/checkpoint.h"

namespace infini {

Decoder convert_weights(Decoder& source, const ModelConfig& target, double new_gate) {
  const auto& from = source->config();
  if (target.tie_word_embeddings && !from.tie_word_embeddings) {
    throw InputError("cannot tie the embeddings of a checkpoint whose lm_head is separate");
  }
  Decoder converted(target);
  auto wanted = converted->named_parameters();
  auto available = source->named_parameters();
  torch::NoGradGuard no_grad;
  for (auto& item : wanted) {
    const auto& name = item.key();
    std::string source_name = name;
    if (name == "lm_head.weight" && from.tie_word_embeddings) source_name = "model.embed_tokens.weight";
    const auto* found = available.find(source_name);
    if (found == nullptr) {
      if (is_gate_parameter(name)) {
        item.value().fill_(new_gate);  // an infini layer where the source had none
        continue;
      }
      throw InputError("cannot convert: the source checkpoint has no tensor '" + name + "'");
    }
    if (found->sizes() != item.value().sizes()) {
      throw InputError("cannot convert: tensor '" + name + "' is " + c10::str(found->sizes()) + " in the source, " +
                       c10::str(item.value().sizes()) + " in the target config (only attention settings may change)");
    }
    item.value().copy_(found->to(item.value().device()));
  }
  return converted;
}

void save_hf_model(const std::string& dir, Decoder& decoder, const std::string& tokenizer) {
  const auto& config = decoder->config();
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    if (config.layer_kind(layer) != AttentionKind::Full) {
      throw InputError("--to-hf: layer " + std::to_string(layer) + " is " +
                       attention_kind_name(config.layer_kind(layer)) +
                       "; a plain Llama needs every layer full (convert with model.infini_attention.kind=full first)");
    }
  }
  auto json = model_config_to_json(config);
  json.erase("infini_attention");  // max_position_embeddings is the source's, written by the schema
  StagedDirectory writer(dir);
  stage_model(writer, decoder, tokenizer);
  writer.write_text("config.json", json.dump(2) + "\n");  // replaces the one with infini_attention
  writer.commit();
}

}  // namespace infini
