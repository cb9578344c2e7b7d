#include "eval/checkpoint_perplexity.h"

#include <map>
#include <spdlog/spdlog.h>

#include "core/files.h"
#include "core/system.h"
#include "data/tokenizer.h"
#include "eval/footprint.h"
#include "eval/provenance.h"
#include "model/checkpoint.h"

namespace infini {

std::vector<PerplexityResult> evaluate_checkpoints(const CheckpointPerplexityOptions& options) {
  std::map<std::string, std::unique_ptr<Corpus>> corpora;  // by tokenizer fingerprint
  std::vector<std::string> fingerprints;
  for (const auto& checkpoint : options.checkpoints) {
    const auto model = read_model_config(checkpoint);  // a bad config.json fails now, not after the others
    const auto tokenizer = tokenizer_path(checkpoint);
    const auto fingerprint = file_fingerprint(tokenizer);
    if (!corpora.count(fingerprint)) corpora[fingerprint] = open_corpus(options.data, tokenizer);
    require_tokenizer_fits(corpora.at(fingerprint)->vocab_size(), model.vocab_size, checkpoint);
    fingerprints.push_back(fingerprint);
  }

  std::vector<PerplexityResult> results;
  PerplexityOptions perplexity = options.perplexity;
  for (size_t c = 0; c < options.checkpoints.size(); ++c) {
    const auto& checkpoint = options.checkpoints[c];
    reset_peak_memory();  // each checkpoint's peaks: its loading and its evaluations
    Decoder decoder = load_model(checkpoint, perplexity.device);
    decoder->to(perplexity.dtype);
    decoder->eval();
    std::vector<bool> memory_settings{options.perplexity.memory};
    if (options.memory_ablation && memory_state_elements(decoder->config()) > 0) memory_settings.push_back(false);
    for (const bool memory : memory_settings) {
      perplexity.memory = memory;
      auto result = evaluate_perplexity(decoder, *corpora.at(fingerprints[c]), perplexity);
      result.checkpoint = checkpoint;
      result.data = options.data;
      result.provenance = provenance_of(checkpoint, result.provenance.data_fingerprint);
      results.push_back(std::move(result));
    }
  }
  return results;
}

}  // namespace infini
