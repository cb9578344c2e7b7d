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

namespace {

// What evaluate_perplexity reads of a document: at most `limit` tokens (0: all) passed on, every
// one of them added to the data's fingerprint, the time spent reading (tokenising) kept apart,
// and on request the count of the tokens past the limit.
class CountedTokens final : public TokenStream {
 public:
  CountedTokens(TokenStream& source, int64_t limit, Fingerprint& fingerprint)
      : source_(source), limit_(limit), fingerprint_(fingerprint) {}
  bool next(std::vector<int64_t>& out) override {
    if (limit_ > 0 && given_ >= limit_) return false;
    const auto began = std::chrono::steady_clock::now();
    const size_t had = out.size();
    const bool more = source_.next(out);
    reading_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    if (!more) return false;
    auto got = static_cast<int64_t>(out.size() - had);
    if (limit_ > 0 && given_ + got > limit_) {
      past_limit_ += given_ + got - limit_;
      got = limit_ - given_;
      out.resize(had + static_cast<size_t>(got));
    }
    fingerprint_.add(std::string_view(reinterpret_cast<const char*>(out.data() + had),
                                      static_cast<size_t>(got) * sizeof(int64_t)));
    given_ += got;
    return true;
  }
  int64_t given() const { return given_; }
  // All of the document's tokens: those given and those past the limit (read to the end now).
  int64_t total() {
    std::vector<int64_t> rest;
    while (source_.next(rest)) {
      past_limit_ += static_cast<int64_t>(rest.size());
      rest.clear();
    }
    return given_ + past_limit_;
  }
  double reading_seconds = 0.0;

 private:
  TokenStream& source_;
  int64_t limit_;
  Fingerprint& fingerprint_;
  int64_t given_ = 0, past_limit_ = 0;
};

}  // namespace

DocumentNll document_nll(Decoder& decoder, TokenStream& tokens, const PerplexityOptions& options,
                         std::vector<PositionBucket>& buckets, const std::function<void(int64_t)>& scored) {
  const int64_t segment = options.segment_length > 0 ? options.segment_length : decoder->config().attention.segment_length;
  // Tokens are scored a forward call at a time as they arrive: only a call's worth (and the
  // piece the stream last gave) is held, so memory does not grow with the document. The calls
  // are those of for_each_segment over the whole document: full ones while more than a call's
  // worth is left, then the remaining whole segments, then a partial one.
  const int64_t call = (options.memory ? decoder->segments_per_call(segment) : 1) * segment;
  DocumentNll result;
  std::vector<int64_t> held;  // tokens [start, start + held.size()) of the document
  int64_t start = 0;
  ModelState state;
  auto score = [&](int64_t inputs) {  // predicts held[1 .. inputs] from held[0 .. inputs)
    auto window = torch::from_blob(held.data(), {inputs + 1}, torch::kInt64).to(options.device);
    auto targets = window.slice(0, 1, inputs + 1);
    for_each_segment(decoder, window.slice(0, 0, inputs).unsqueeze(0), segment, state, options.memory,
                     [&](int64_t first, const torch::Tensor& logits) {
      const int64_t length = logits.size(1);
      auto log_probs = torch::log_softmax(logits[0].to(torch::kFloat32), -1);
      auto losses = -log_probs.gather(1, targets.slice(0, first, first + length).unsqueeze(1)).squeeze(1);
      auto per_token = losses.to(torch::kFloat64).cpu();
      const double* values = per_token.data_ptr<double>();
      for (int64_t i = 0; i < length; ++i) {
        const int64_t position = start + first + i;
        const auto bucket = static_cast<size_t>(position / options.bucket_width);
        while (buckets.size() <= bucket) {
          const int64_t begin = static_cast<int64_t>(buckets.size()) * options.bucket_width;
          buckets.push_back({begin, begin + options.bucket_width, 0, 0.0});
        }
        buckets[bucket].tokens += 1;
        buckets[bucket].nll += values[i];
        result.nll += values[i];
      }
      if (scored) scored(start + first + length);
    });
    held.erase(held.begin(), held.begin() + inputs);
    start += inputs;
  };
  bool more = true;
  while (true) {
    while (more && static_cast<int64_t>(held.size()) <= call) more = tokens.next(held);
    const auto inputs = static_cast<int64_t>(held.size()) - 1;
    if (inputs >= call) {
      score(inputs / call * call);
    } else {
      if (inputs > 0) score(inputs);
      break;
    }
  }
  result.tokens = start;
  return result;
}

double document_nll(Decoder& decoder, const std::vector<int64_t>& tokens, const PerplexityOptions& options,
                    std::vector<PositionBucket>& buckets, const std::function<void(int64_t)>& scored) {
  VectorTokens stream(tokens, 1 << 16);
  return document_nll(decoder, stream, options, buckets, scored).nll;
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
    const OpenedDocument document = corpus.open(i);
    if (document.invalid_utf8_at >= 0) {
      progress.clear();
      spdlog::warn("{}: skipped, not valid UTF-8 at byte {}", document.name, document.invalid_utf8_at);
      continue;
    }
    data.add(document.name);
    CountedTokens tokens(*document.tokens, options.max_tokens_per_document > 0 ? options.max_tokens_per_document + 1 : 0,
                         data);
    DocumentScore score;
    score.name = document.name;
    const auto began = std::chrono::steady_clock::now();
    // Inside a long document: the live line when due, a log line every half minute.
    auto logged = began;
    auto inside = [&](int64_t done) {
      const auto now = std::chrono::steady_clock::now();
      const bool draw = progress.due();
      const bool log = options.log_documents && now - logged >= std::chrono::seconds(30);
      if (!draw && !log) return;
      const double elapsed =
          result.seconds + std::chrono::duration<double>(now - began).count() - tokens.reading_seconds;
      const auto detail = fmt::format("{} pass: {} {} tokens, {:.0f} tok/s", pass, score.name, length_text(done),
                                      static_cast<double>(scored + done) / elapsed);
      if (draw) progress.update(static_cast<int64_t>(i), detail, i > 0 ? result.seconds / static_cast<double>(i) : 0.0);
      if (log) {
        spdlog::info("{}", detail);
        logged = now;
      }
    };
    const auto nll = document_nll(decoder, tokens, result.options, result.by_position, inside);
    // Scoring only: reading and tokenising, interleaved with it, are taken out.
    result.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count() - tokens.reading_seconds;
    score.nll = nll.nll;
    score.tokens = nll.tokens;
    score.bytes = options.max_tokens_per_document > 0 ? prefix_bytes(document.bytes, tokens.given(), tokens.total())
                                                      : document.bytes;
    longest = std::max<int64_t>(longest, tokens.given());
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
