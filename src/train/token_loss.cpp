#include "train/token_loss.h"

#include <ATen/Parallel.h>

#include "core/vector_math.h"

namespace infini {

namespace {

torch::ScalarType loss_dtype(const torch::Tensor& logits) {
  return logits.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

// Rows [begin, end) of `vocab` logits: log Σ exp into `log_sums`, and the summed loss
// log Σ exp − logit[target] of the rows that count into *loss.
template <typename X>
INFINI_INLINE void forward_rows(const X* __restrict logits, const int64_t* __restrict targets, int64_t ignore_index,
                                vec::Compute<X>* __restrict log_sums, vec::Compute<X>* __restrict loss, int64_t vocab,
                                int64_t begin, int64_t end) {
  using C = vec::Compute<X>;
  C total = 0;
  for (int64_t row = begin; row < end; ++row) {
    const X* x = logits + row * vocab;
    const C largest = vec::maximum<C>(vocab, [&](int64_t j) { return vec::widen(x[j]); });
    C sum = 0;  // Σ exp(x − largest) in blocks: a loop of exponentials alone vectorises, one into a sum less so
    alignas(64) C block[vec::kStage];
    for (int64_t j = 0; j < vocab; j += vec::kStage) {
      const int64_t n = std::min(vec::kStage, vocab - j);
      for (int64_t k = 0; k < n; ++k) block[k] = vec::widen(x[j + k]);
      for (int64_t k = 0; k < n; ++k) block[k] = vec::exp(block[k] - largest);
      sum += vec::sum<C>(n, [&](int64_t k) { return block[k]; });
    }
    const C log_sum = largest + std::log(sum);
    log_sums[row] = log_sum;
    if (targets[row] != ignore_index) total += log_sum - vec::widen(x[targets[row]]);
  }
  *loss = total;
}

// d logits = g·(softmax − one-hot at the target) on counted rows, 0 on ignored ones.
template <typename X>
INFINI_INLINE void backward_rows(const X* __restrict logits, const int64_t* __restrict targets, int64_t ignore_index,
                                 const vec::Compute<X>* __restrict log_sums, vec::Compute<X> upstream,
                                 X* __restrict out, int64_t vocab, int64_t begin, int64_t end) {
  using C = vec::Compute<X>;
  for (int64_t row = begin; row < end; ++row) {
    const X* x = logits + row * vocab;
    X* g = out + row * vocab;
    const bool counted = targets[row] != ignore_index;
    const C scale = counted ? upstream : C(0), log_sum = log_sums[row];
    if constexpr (std::is_same_v<X, uint16_t>) {  // through float32 blocks (vec::kStage)
      alignas(64) float block[vec::kStage];
      for (int64_t j = 0; j < vocab; j += vec::kStage) {
        const int64_t n = std::min(vec::kStage, vocab - j);
        vec::widen_block(x + j, block, n);
        for (int64_t k = 0; k < n; ++k) block[k] = scale * vec::exp(block[k] - log_sum);
        vec::store_block(block, g + j, n);
      }
    } else {
      for (int64_t j = 0; j < vocab; ++j) g[j] = scale * vec::exp(x[j] - log_sum);
    }
    if (counted) {  // rounded once, as the rest
      const int64_t t = targets[row];
      vec::store(g[t], scale * vec::exp(vec::widen(x[t]) - log_sum) - scale);
    }
  }
}

#define INFINI_TOKEN_LOSS_ROWS(X)                                                                          \
  INFINI_VECTOR_CLONES void token_loss_rows(const X* logits, const int64_t* targets, int64_t ignore_index, \
                                            vec::Compute<X>* log_sums, vec::Compute<X>* loss, int64_t vocab, \
                                            int64_t begin, int64_t end) {                                  \
    forward_rows(logits, targets, ignore_index, log_sums, loss, vocab, begin, end);                        \
  }                                                                                                        \
  INFINI_VECTOR_CLONES void token_loss_backward_rows(const X* logits, const int64_t* targets,              \
                                                     int64_t ignore_index, const vec::Compute<X>* log_sums, \
                                                     vec::Compute<X> upstream, X* out, int64_t vocab,      \
                                                     int64_t begin, int64_t end) {                         \
    backward_rows(logits, targets, ignore_index, log_sums, upstream, out, vocab, begin, end);              \
  }
INFINI_TOKEN_LOSS_ROWS(float)
INFINI_TOKEN_LOSS_ROWS(double)
INFINI_TOKEN_LOSS_ROWS(uint16_t)
#undef INFINI_TOKEN_LOSS_ROWS

// Rows per block: the forward sums the loss per block and then the blocks in order, so the
// result does not depend on the thread count.
constexpr int64_t kBlockRows = 4;

template <typename Body>
void dispatch(torch::ScalarType dtype, Body&& body) {
  if (dtype == torch::kFloat64) {
    body(double{});
  } else if (dtype == torch::kBFloat16) {
    body(uint16_t{});
  } else {
    body(float{});
  }
}

class SummedCrossEntropy : public torch::autograd::Function<SummedCrossEntropy> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& logits_input,
                               const torch::Tensor& targets_input, int64_t ignore_index) {
    const auto logits = logits_input.contiguous();
    const auto targets = targets_input.to(torch::kInt64).contiguous();
    const int64_t rows = logits.size(0), vocab = logits.size(1), blocks = (rows + kBlockRows - 1) / kBlockRows;
    const auto options = logits.options().dtype(loss_dtype(logits));
    auto log_sums = torch::empty({rows}, options);
    auto partial = torch::empty({blocks}, options);
    dispatch(logits.scalar_type(), [&](auto element) {
      using X = decltype(element);
      using C = vec::Compute<X>;
      const X* x = reinterpret_cast<const X*>(logits.data_ptr());
      const int64_t* t = targets.data_ptr<int64_t>();
      C* sums = log_sums.data_ptr<C>();
      C* losses = partial.data_ptr<C>();
      at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
        for (int64_t block = first; block < last; ++block) {
          token_loss_rows(x, t, ignore_index, sums, losses + block, vocab, block * kBlockRows,
                          std::min(rows, (block + 1) * kBlockRows));
        }
      });
    });
    ctx->save_for_backward({logits, targets, log_sums});
    ctx->saved_data["ignore_index"] = ignore_index;
    return partial.sum();
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &logits = saved[0], &targets = saved[1], &log_sums = saved[2];
    const int64_t ignore_index = ctx->saved_data["ignore_index"].toInt();
    if (torch::GradMode::is_enabled()) {  // create_graph: the same gradient through ATen's ops, with its graph
      auto valid = targets != ignore_index;
      auto scale = (valid.to(log_sums.scalar_type()) * grad_outputs[0]).unsqueeze(1);
      auto grad = torch::softmax(logits.to(log_sums.scalar_type()), -1) * scale;
      grad = grad.scatter_add(1, targets.masked_fill(~valid, 0).unsqueeze(1), -scale);
      return {grad.to(logits.scalar_type()), torch::Tensor(), torch::Tensor()};
    }
    const int64_t rows = logits.size(0), vocab = logits.size(1);
    auto out = torch::empty_like(logits);
    dispatch(logits.scalar_type(), [&](auto element) {
      using X = decltype(element);
      using C = vec::Compute<X>;
      const X* x = reinterpret_cast<const X*>(logits.data_ptr());
      const int64_t* t = targets.data_ptr<int64_t>();
      const C* sums = log_sums.data_ptr<C>();
      const C upstream = grad_outputs[0].item<C>();
      X* target = reinterpret_cast<X*>(out.data_ptr());
      at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
        token_loss_backward_rows(x, t, ignore_index, sums, upstream, target, vocab, begin, end);
      });
    });
    return {out, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor summed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, int64_t ignore_index) {
  TORCH_CHECK(logits.dim() == 2 && targets.dim() == 1 && logits.size(0) == targets.size(0),
              "summed_cross_entropy: logits [N, V] and targets [N]");
  const int64_t vocab = logits.size(1);
  TORCH_CHECK(((targets == ignore_index) | ((targets >= 0) & (targets < vocab))).all().item<bool>(),
              "summed_cross_entropy: a target outside the vocabulary of ", vocab);
  if (!vec::loops_serve(logits) || vocab == 0) {
    return torch::nn::functional::cross_entropy(
        logits.to(loss_dtype(logits)), targets,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum).ignore_index(ignore_index));
  }
  return SummedCrossEntropy::apply(logits, targets, ignore_index);
}

}  // namespace infini
