#include "train/token_loss.h"

namespace infini {

namespace {

class SummedCrossEntropy : public torch::autograd::Function<SummedCrossEntropy> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& targets, int64_t ignore_index) {
    auto log_probs = torch::log_softmax(logits, -1);
    auto valid = targets != ignore_index;
    auto rows = targets.masked_fill(~valid, 0).unsqueeze(1);
    auto picked = log_probs.gather(1, rows).squeeze(1);
    auto weight = valid.to(log_probs.scalar_type());
    ctx->save_for_backward({log_probs, rows, weight});
    return -(picked * weight).sum();
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    // The saved log-probabilities become the gradient in place: nothing else reads them (a second
    // backward with retain_graph would be refused by autograd's version check on them).
    auto grad = saved[0].exp_();
    auto scale = (saved[2] * grad_outputs[0]).unsqueeze(1);  // g on counted rows, 0 on ignored ones
    grad.mul_(scale);
    grad.scatter_add_(1, saved[1], -scale);
    return {grad, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor summed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, int64_t ignore_index) {
  TORCH_CHECK(logits.dim() == 2 && targets.dim() == 1 && logits.size(0) == targets.size(0),
              "summed_cross_entropy: logits [N, V] and targets [N]");
  const auto dtype = logits.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  return SummedCrossEntropy::apply(logits.to(dtype), targets, ignore_index);
}

}  // namespace infini
