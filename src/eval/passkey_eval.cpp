#include "eval/passkey_eval.h"

#include "model/checkpoint.h"

#include <chrono>
#include <map>
#include <random>

#include "core/errors.h"
#include "core/files.h"
#include "core/number_format.h"
#include "core/json_fields.h"
#include "eval/result_header.h"
#include "core/progress.h"
#include "eval/generate.h"

namespace infini {

std::vector<int64_t> passkey_keys(int64_t count, uint64_t seed, int64_t digits) {
  const auto range = passkey_key_range(digits, "--key-digits");
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> draw(range.low, range.high);
  std::vector<int64_t> keys;
  for (int64_t i = 0; i < count; ++i) keys.push_back(draw(rng));
  return keys;
}

void check_passkey_lengths(const PasskeyTask& task, const PasskeyOptions& options) {
  for (const int64_t key : passkey_keys(options.keys, options.seed, options.key_digits)) {
    for (const int64_t length : options.lengths) {
      task.require_length(length, key, options.segment_length);
    }
  }
}

namespace {

// Sets record_mix on every infini layer for its lifetime.
class MixRecording {
 public:
  explicit MixRecording(Decoder& decoder) {
    auto& layers = decoder->model->layers;
    for (size_t i = 0; i < layers.size(); ++i) {
      if (!layers[i]->self_attn->gate.defined()) continue;
      layers[i]->self_attn->record_mix = true;
      attentions_.emplace_back(static_cast<int64_t>(i), layers[i]->self_attn.get());
    }
  }
  ~MixRecording() {
    for (auto& [layer, attention] : attentions_) attention->record_mix = false;
  }
  MixRecording(const MixRecording&) = delete;
  MixRecording& operator=(const MixRecording&) = delete;

  // The shares the last forward call left, attributed to answer token `token`.
  void take(int64_t token, std::vector<MemoryShare>& into) const {
    for (const auto& [layer, attention] : attentions_) {
      const auto& mix = attention->last_mix;
      if (!mix.from_memory.defined()) continue;
      const auto share = (mix.from_memory / (mix.from_memory + mix.local).clamp_min(1e-30)).contiguous();
      const auto* values = share.data_ptr<double>();
      into.push_back({token, layer, std::vector<double>(values, values + share.numel())});
    }
  }

 private:
  std::vector<std::pair<int64_t, AttentionImpl*>> attentions_;  // infini layers by index
};

}  // namespace

PasskeyResult evaluate_passkey(Decoder& decoder, const Tokenizer& tokenizer, const PasskeyOptions& options) {
  PasskeyTask task(tokenizer);
  const MixRecording mixes(decoder);
  check_passkey_lengths(task, options);
  PasskeyResult result;
  result.options = options;
  result.model = model_config_to_json(decoder->config());
  const auto keys = passkey_keys(options.keys, options.seed, options.key_digits);
  const auto total = static_cast<int64_t>(options.lengths.size() * options.depths.size() * keys.size());
  ProgressBar progress(total, options.progress_bar);
  Fingerprint prompts;
  const char* pass = options.memory ? "memory" : "reset";
  double seconds = 0.0;
  int64_t tokens = 0;
  for (const int64_t length : options.lengths) {
    for (const double depth : options.depths) {
      for (const int64_t key : keys) {
        const auto began = std::chrono::steady_clock::now();
        const auto prompt = task.prompt(length, depth, key, options.segment_length);
        prompts.add(std::string_view(reinterpret_cast<const char*>(prompt.tokens.data()),
                                     prompt.tokens.size() * sizeof(prompt.tokens[0])));
        Decoding greedy(decoder, options.memory);
        // A long prompt redraws the live line as it is read (a 1M-token prompt takes minutes).
        greedy.read(prompt.tokens, [&](int64_t read) {
          if (!progress.due()) return;
          const auto done = static_cast<int64_t>(result.trials.size());
          progress.update(done, fmt::format("{} pass: length {} depth {:.2f}: {}/{} tokens read", pass, length, depth,
                                            length_text(static_cast<double>(read)), length_text(static_cast<double>(prompt.tokens.size()))),
                          done > 0 ? seconds / static_cast<double>(done) : 0.0);
        });
        PasskeyTrial trial;
        mixes.take(0, trial.memory_share);  // the prompt's last token predicts the first answer token
        Decoding forced = greedy;  // the same prompt, continued with the key's own tokens
        std::vector<int64_t> produced;
        for (size_t i = 0; i < prompt.answer.size(); ++i) {
          const auto answer = prompt.answer[i];
          produced.push_back(greedy.next_logits().argmax().item<int64_t>());
          trial.answer_nll.push_back(
              -torch::log_softmax(forced.next_logits().to(torch::kFloat64), -1)[answer].item<double>());
          if (i + 1 == prompt.answer.size()) break;
          greedy.push(produced.back());
          forced.push(answer);  // last, so the recorded mix is the teacher-forced prediction's
          mixes.take(static_cast<int64_t>(i) + 1, trial.memory_share);
        }
        trial.length = length;
        trial.depth = depth;
        trial.key = key;
        trial.prompt_tokens = static_cast<int64_t>(prompt.tokens.size());
        trial.key_position = prompt.key_position;
        trial.question_position = prompt.question_position;
        const int64_t segment = decoder->config().attention.segment_length;
        trial.segments_between =
            prompt.question_position / segment - (prompt.key_position + prompt.key_tokens - 1) / segment - 1;
        trial.answer_tokens = static_cast<int64_t>(prompt.answer.size());
        for (size_t i = 0; i < prompt.answer.size(); ++i) {
          trial.correct.push_back(produced[i] == prompt.answer[i]);
          trial.correct_tokens += trial.correct.back();
        }
        trial.decoded = tokenizer.decode(produced);
        trial.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
        seconds += trial.seconds;
        tokens += length;
        result.trials.push_back(trial);
        const auto done = static_cast<int64_t>(result.trials.size());
        progress.update(done, fmt::format("{} pass: length {} depth {:.2f}: {:.0f} tok/s", pass, length, depth,
                                                seconds > 0 ? static_cast<double>(tokens) / seconds : 0.0),
                        seconds / static_cast<double>(done));
      }
      const auto& last = result.trials.back();
      progress.clear();
      spdlog::info("passkey length {} depth {:.2f}: key {} answered '{}' ({}/{} tokens)", length, depth, last.key,
                   last.decoded, last.correct_tokens, last.answer_tokens);
    }
  }
  progress.clear();
  result.provenance.data_fingerprint = prompts.hex();
  return result;
}

std::vector<PasskeyCell> PasskeyResult::cells() const {
  struct Sums {
    int64_t correct = 0, tokens = 0, exact = 0, trials = 0;
  };
  std::map<std::pair<int64_t, double>, Sums> sums;
  for (const auto& t : trials) {
    auto& cell = sums[{t.length, t.depth}];
    cell.correct += t.correct_tokens;
    cell.tokens += t.answer_tokens;
    cell.exact += t.correct_tokens == t.answer_tokens;
    cell.trials += 1;
  }
  std::vector<PasskeyCell> out;
  for (const auto& [where, cell] : sums) {
    out.push_back({where.first, where.second, cell.trials,
                   cell.tokens > 0 ? static_cast<double>(cell.correct) / static_cast<double>(cell.tokens) : 0.0,
                   static_cast<double>(cell.exact) / static_cast<double>(cell.trials)});
  }
  return out;
}

nlohmann::json PasskeyResult::to_json() const {
  auto json = result_json("passkey", *this);
  json["layout"] = options.segment_length > 0 ? "memory-only" : "table3";
  auto accuracy = nlohmann::json::array();
  for (const auto& c : cells()) {
    accuracy.push_back(
        {{"length", c.length}, {"depth", c.depth}, {"accuracy", c.accuracy}, {"exact", c.exact}, {"trials", c.trials}});
  }
  json["accuracy"] = accuracy;
  return json;
}

PasskeyResult PasskeyResult::from_json(const nlohmann::json& json, const std::string& where) {
  return read_result<PasskeyResult>(json, where, "passkey");
}

PasskeyResult evaluate_passkey_checkpoint(const std::string& checkpoint, PasskeyOptions options, bool memory_layout,
                                          torch::Device device, torch::ScalarType dtype) {
  const Tokenizer tokenizer(tokenizer_path(checkpoint));
  const auto config = read_model_config(checkpoint);
  require_tokenizer_fits(tokenizer.vocab_size(), config.vocab_size, checkpoint);
  options.segment_length = memory_layout ? config.attention.segment_length : 0;
  check_passkey_lengths(PasskeyTask(tokenizer), options);
  Decoder decoder = load_model(checkpoint, device);
  decoder->to(dtype);
  decoder->eval();
  auto result = evaluate_passkey(decoder, tokenizer, options);
  result.checkpoint = checkpoint;
  result.provenance = provenance_of(checkpoint, result.provenance.data_fingerprint);
  return result;
}

}  // namespace infini
