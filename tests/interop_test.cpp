// Our formats against the libraries themselves, where they are installed (the GPU machine's
// Python: scripts/gpu_interop.py writes the reference). Skipped unless INFINI_HF_REFERENCE names
// a directory holding a Hugging Face Llama written by transformers and reference.safetensors
// with its logits for `tokens`.
#include <gtest/gtest.h>

#include <cstdlib>

#include "formats/safetensors.h"
#include "model/checkpoint.h"

using namespace infini;

TEST(HfInterop, ImportedLlamaGivesTransformersLogits) {
  const char* dir = std::getenv("INFINI_HF_REFERENCE");
  if (dir == nullptr) GTEST_SKIP() << "INFINI_HF_REFERENCE is not set";
  torch::Tensor tokens, expected;
  for (const auto& [name, tensor] : read_safetensors(std::string(dir) + "/reference.safetensors")) {
    (name == "tokens" ? tokens : expected) = tensor;
  }
  ASSERT_TRUE(tokens.defined() && expected.defined());
  Decoder model = load_model(dir);
  torch::NoGradGuard no_grad;
  ModelState state;
  const auto logits = forward_sequence(model, tokens, model->config().attention.segment_length, state);
  ASSERT_EQ(logits.sizes(), expected.sizes());
  const double error = (logits - expected).abs().max().item<double>();
  EXPECT_LT(error, 1e-5 * std::max(1.0, expected.abs().max().item<double>())) << "max |difference| " << error;
}
