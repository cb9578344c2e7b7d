#include "eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/errors.h"
#include "core/files.h"
#include "core/json_fields.h"
#include "core/number_format.h"
#include "core/progress.h"
#include "core/runtime.h"
#include "core/system.h"
#include "eval/result_header.h"

namespace infini {

double document_nll(Decoder& decoder, const std::vector<int64_t>& tokens, const PerplexityOptions& options,
                    std::vector<PositionBucket>& buckets, const std::function<void(int64_t)>& scored) {
  const int64_t predicted = static_cast<int64_t>(tokens.size()) - 1;
  if (predicted <= 0) return 0.0;
  const int64_t segment = options.segment_length > 0 ? options.segment_length : decoder->config().attention.segment_length;
  // A view of the caller's tokens (no copy on the CPU): memory must not grow with the document.
  auto all = torch::from_blob(const_cast<int64_t*>(tokens.data()), {predicted + 1}, torch::kInt64).to(options.device);
  auto inputs = all.slice(0, 0, predicted).unsqueeze(0);
  auto targets = all.slice(0, 1, predicted + 1);

  double total = 0.0;
  ModelState state;
  for_each_segment(decoder, inputs, segment, state, options.memory, [&](int64_t start, const torch::Tensor& logits) {
    const int64_t length = logits.size(1);
    auto log_probs = torch::log_softmax(logits[0].to(torch::kFloat32), -1);
    auto losses = -log_probs.gather(1, targets.slice(0, start, start + length).unsqueeze(1)).squeeze(1);
    auto per_token = losses.to(torch::kFloat64).cpu();
    const double* values = per_token.data_ptr<double>();
    for (int64_t i = 0; i < length; ++i) {
      const int64_t position = start + i;
      const auto bucket = static_cast<size_t>(position / options.bucket_width);
      while (buckets.size() <= bucket) {
        const int64_t begin = static_cast<int64_t>(buckets.size()) * options.bucket_width;
        buckets.push_back({begin, begin + options.bucket_width, 0, 0.0});
      }
      buckets[bucket].tokens += 1;
      buckets[bucket].nll += values[i];
      total += values[i];
    }
    if (scored) scored(start + length);
  });
  return total;
}

PerplexityResult evaluate_perplexity(Decoder& decoder, const Corpus& corpus, const PerplexityOptions& options) {
  c10::InferenceMode inference;
  PerplexityResult result;
  result.options = options;
  if (result.options.segment_length <= 0) result.options.segment_length = decoder->config().attention.segment_length;
  result.model = model_config_to_json(decoder->config());
  result.gates = gate_statistics(decoder);
  int64_t longest = 0, scored = 0;
  size_t documents = corpus.size();
  if (options.max_documents > 0) documents = std::min(documents, static_cast<size_t>(options.max_documents));
  {
    // One untimed segment first: thread pools, BLAS buffers and the allocator warm up on it, so
    // tokens/s is the steady rate whatever the documents' lengths.
    ModelState warm;
    auto tokens = torch::full({1, std::min<int64_t>(result.options.segment_length, 512)}, decoder->config().bos_token_id,
                              torch::TensorOptions(torch::kInt64).device(options.device));
    decoder->forward(tokens, warm);
  }
  ProgressBar progress(static_cast<int64_t>(documents), options.progress_bar);
  Fingerprint data;  // of what is scored: the names and the tokens
  const char* pass = result.options.memory ? "memory" : "reset";
  for (size_t i = 0; i < documents; ++i) {
    const TokenizedDocument document =
        corpus.load(i, options.max_tokens_per_document > 0 ? options.max_tokens_per_document + 1 : 0);
    if (document.invalid_utf8_at >= 0) {
      progress.clear();
      spdlog::warn("{}: skipped, not valid UTF-8 at byte {}", document.name, document.invalid_utf8_at);
      continue;
    }
    data.add(document.name).add(std::string_view(reinterpret_cast<const char*>(document.tokens.data()),
                                                 document.tokens.size() * sizeof(int64_t)));
    DocumentScore score;
    score.name = document.name;
    score.bytes = document.bytes;
    score.tokens = static_cast<int64_t>(document.tokens.size()) - 1;
    const auto began = std::chrono::steady_clock::now();  // scoring only: reading and tokenising excluded
    // Inside a long document: the live line when due, a log line every half minute.
    auto logged = began;
    auto inside = [&](int64_t done) {
      const auto now = std::chrono::steady_clock::now();
      const bool draw = progress.due();
      const bool log = options.log_documents && now - logged >= std::chrono::seconds(30);
      if (!draw && !log) return;
      const double elapsed = result.seconds + std::chrono::duration<double>(now - began).count();
      const auto detail = fmt::format("{} pass: {} {}/{} tokens, {:.0f} tok/s", pass, score.name, length_text(done),
                                      length_text(score.tokens), static_cast<double>(scored + done) / elapsed);
      if (draw) progress.update(static_cast<int64_t>(i), detail, i > 0 ? result.seconds / static_cast<double>(i) : 0.0);
      if (log) {
        spdlog::info("{}", detail);
        logged = now;
      }
    };
    score.nll = document_nll(decoder, document.tokens, result.options, result.by_position, inside);
    result.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    longest = std::max<int64_t>(longest, static_cast<int64_t>(document.tokens.size()));
    scored += score.tokens;
    const double rate = result.seconds > 0 ? static_cast<double>(scored) / result.seconds : 0.0;
    const double ppl = std::exp(score.nll / static_cast<double>(std::max<int64_t>(1, score.tokens)));
    if (options.log_documents) {
      progress.clear();
      spdlog::info("{} ({} pass): {} tokens, ppl {:.3f}", score.name, pass, score.tokens, ppl);
    }
    progress.update(static_cast<int64_t>(i + 1), fmt::format("{} pass: {:.0f} tok/s, last {} ppl {:.2f}", pass, rate, score.name, ppl),
                    result.seconds / static_cast<double>(i + 1));
    result.documents.push_back(std::move(score));
  }
  progress.clear();
  if (result.documents.empty()) {
    throw InputError(corpus.path() + ": no document left to score (every one was skipped as invalid UTF-8)");
  }
  result.provenance.data_fingerprint = data.hex();
  result.footprint = formula_footprint(decoder->config(), longest, result.options.segment_length, options.dtype);
  result.footprint.parameters = decoder->parameter_count();
  result.footprint.peak_rss_bytes = peak_rss_bytes();
  result.footprint.peak_device_bytes = peak_device_bytes();
  return result;
}

double PositionBucket::ppl() const { return tokens > 0 ? std::exp(nll / static_cast<double>(tokens)) : 0.0; }

double PerplexityTotal::ppl() const { return tokens > 0 ? std::exp(nll / static_cast<double>(tokens)) : 0.0; }

double PerplexityTotal::bits_per_byte() const {
  return bytes > 0 ? nll / (std::log(2.0) * static_cast<double>(bytes)) : 0.0;
}

PerplexityTotal PerplexityResult::total() const {
  PerplexityTotal total;
  for (const auto& d : documents) {
    total.tokens += d.tokens;
    total.bytes += d.bytes;
    total.nll += d.nll;
  }
  total.documents = static_cast<int64_t>(documents.size());
  return total;
}

nlohmann::json PerplexityResult::to_json() const {
  auto json = result_json("ppl", *this);
  const auto sum = total();
  json["total"] = {{"tokens", sum.tokens}, {"bytes", sum.bytes},       {"nll", sum.nll},
                   {"ppl", sum.ppl()},     {"bits_per_byte", sum.bits_per_byte()}, {"documents", sum.documents}};
  json["timing"] = {{"seconds", seconds},
                    {"tokens_per_second", seconds > 0 ? static_cast<double>(sum.tokens) / seconds : 0.0}};
  for (size_t i = 0; i < by_position.size(); ++i) json["by_position"][i]["ppl"] = by_position[i].ppl();
  json["footprint"] = footprint.to_json();
  json["gates"] = gates_to_json(gates);
  return json;
}

PerplexityResult PerplexityResult::from_json(const nlohmann::json& json, const std::string& where) {
  auto result = read_result<PerplexityResult>(json, where, "ppl");
  model_config_from_json(result.model, where + ": model");  // a config.json the report can read
  const JsonReader r(json, where);
  if (r.has("timing")) result.seconds = r.object("timing").number_or("seconds", 0.0);
  return result;
}

}  // namespace infini
