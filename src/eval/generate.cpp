#include "eval/generate.h"

#include "core/errors.h"

namespace infini {

namespace {

int64_t pick(const torch::Tensor& logits, const GenerateOptions& options, torch::Generator& generator) {
  if (options.temperature <= 0.0) return logits.argmax().item<int64_t>();
  auto probs = torch::softmax(logits.to(torch::kFloat64) / options.temperature, -1);
  if (options.top_p < 1.0) {
    // Keep the smallest set of most likely tokens whose probability reaches top_p.
    auto [sorted, order] = probs.sort(-1, /*descending=*/true);
    auto before = sorted.cumsum(-1) - sorted;
    sorted.masked_fill_(before >= options.top_p, 0.0);
    probs = torch::zeros_like(probs).scatter(-1, order, sorted);
  }
  return torch::multinomial(probs, 1, false, generator).item<int64_t>();
}

}  // namespace

Decoding::Decoding(Decoder& decoder, bool carry_memory)
    : decoder_(&decoder), carry_memory_(carry_memory), segment_(decoder->config().attention.segment_length) {}

void Decoding::push(int64_t token) {
  c10::InferenceMode inference;
  current_.push_back(token);
  ++read_;
  // Only the last token's prediction is ever needed, except that a prompt's earlier segments
  // just have to be written into memory; running them is the price of that.
  const auto device = (*decoder_)->output_weight().device();
  auto [logits, next] = (*decoder_)->forward(torch::tensor(current_, torch::kInt64).to(device).unsqueeze(0), state_);
  next_logits_ = logits[0][-1];
  if (static_cast<int64_t>(current_.size()) == segment_) {
    // The segment is done: its keys and values go into memory, unless memory is ablated.
    state_ = carry_memory_ ? next : ModelState{};
    current_.clear();
  }
}

void Decoding::read(const std::vector<int64_t>& tokens, const std::function<void(int64_t)>& prompt_read) {
  c10::InferenceMode inference;
  const auto device = (*decoder_)->output_weight().device();
  size_t at = 0;
  // Up to the next segment boundary one token at a time; then whole segments, several to a
  // forward call when the memory is carried (Decoder::segments_per_call); the rest alone.
  while (at < tokens.size() && !current_.empty()) push(tokens[at++]);
  const auto left = static_cast<int64_t>(tokens.size() - at);
  const int64_t whole = left / segment_ * segment_;
  const int64_t per_call = carry_memory_ ? (*decoder_)->segments_per_call(segment_) : 1;
  for (int64_t start = 0; start < whole;) {
    const int64_t segments = std::min(per_call, (whole - start) / segment_);
    const int64_t end = start + segments * segment_;
    std::vector<int64_t> stretch(tokens.begin() + static_cast<int64_t>(at) + start,
                                 tokens.begin() + static_cast<int64_t>(at) + end);
    auto [logits, next] =
        (*decoder_)->forward(torch::tensor(stretch, torch::kInt64).to(device).unsqueeze(0), state_, segments);
    next_logits_ = logits[0][-1];
    state_ = carry_memory_ ? next : ModelState{};
    start = end;
    read_ += segments * segment_;
    if (prompt_read) prompt_read(read_);
  }
  at += static_cast<size_t>(whole);
  if (at < tokens.size()) {
    // The partial segment's tokens but the last need no prediction: they go in with it.
    current_.assign(tokens.begin() + static_cast<int64_t>(at), tokens.end() - 1);
    read_ += static_cast<int64_t>(current_.size());
    push(tokens.back());
  }
}

torch::Tensor Decoding::next_logits() const { return next_logits_.defined() ? next_logits_.to(torch::kCPU) : next_logits_; }

std::vector<int64_t> generate(Decoder& decoder, const std::vector<int64_t>& prompt, const GenerateOptions& options,
                              const std::function<void(int64_t)>& on_token) {
  if (prompt.empty()) throw InputError("generate: the prompt is empty (it should at least hold bos)");
  auto generator = at::detail::createCPUGenerator(options.seed);
  Decoding decoding(decoder, options.carry_memory);
  decoding.read(prompt, options.prompt_read);
  std::vector<int64_t> produced;
  while (static_cast<int64_t>(produced.size()) < options.max_new_tokens) {
    const int64_t token = pick(decoding.next_logits(), options, generator);
    produced.push_back(token);
    if (on_token) on_token(token);
    if (token == options.stop_token) break;
    decoding.push(token);
  }
  return produced;
}

}  // namespace infini
