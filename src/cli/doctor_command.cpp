// `infini doctor`: what this machine offers LibTorch, and what will cost speed.
#include <iostream>
#include <torch/torch.h>

#include "cli/commands.h"
#include "core/runtime.h"
#include "core/system.h"

namespace infini::cli {

namespace {

void run_doctor() {
  std::vector<std::string> warnings;
  std::cout << "LibTorch      " << TORCH_VERSION << "\n";
  std::cout << "devices      ";
  for (const auto& d : available_devices()) std::cout << " " << d;
  std::cout << "\n";
  std::cout << "threads       " << torch::get_num_threads() << " intra-op by LibTorch's default, "
            << std::thread::hardware_concurrency() << " cores (infini commands use one per core; --threads N)\n";
  const auto cpu = cpu_features();
  std::cout << "CPU           " << cpu.model << "\n";
  std::cout << "CPU features  AVX2 " << (cpu.avx2 ? "yes" : "no") << ", AVX-512 " << (cpu.avx512f ? "yes" : "no")
            << ", AVX-512 BF16 " << (cpu.avx512_bf16 ? "yes" : "no") << ", AMX " << (cpu.amx ? "yes" : "no") << "\n";
  const auto blas = blas_info();
  std::cout << "BLAS          " << blas.library;
  if (!blas.config.empty()) std::cout << " (" << blas.config << ")";
  std::cout << "\n";
  if (blas.library == "OpenBLAS") {
    std::cout << "OpenBLAS core " << blas.core
              << (blas.coretype_env.empty() ? " (detected)" : " (OPENBLAS_CORETYPE=" + blas.coretype_env + ")") << "\n";
    const std::string better = suggested_openblas_coretype(cpu, blas);
    if (!better.empty()) {
      warnings.push_back("OpenBLAS detected a generic core (" + blas.core + "); export OPENBLAS_CORETYPE=" + better +
                         " for fast kernels (the infini binary does this for itself)");
    }
  } else {
    warnings.push_back("torch is not using OpenBLAS or MKL; install libopenblas0-openmp (scripts/setup.sh does)");
  }
  // Measured with every core, as infini commands run: what run.dtype / --dtype should be here.
  set_threads(0);
  const auto rates = matmul_rates(torch::kCPU, 5);
  std::cout << fmt::format("matmul        float32 {:.0f} GFLOP/s, bfloat16 {:.0f} GFLOP/s (1024², {} threads)\n",
                           rates.float32, rates.bfloat16, torch::get_num_threads());
  // Matmuls are most of a step's time, but not all: below a quarter faster, bf16 buys too little
  // for its coarser rounding.
  const bool bf16_pays = rates.bfloat16_ratio() >= 1.25;
  std::cout << (bf16_pays ? fmt::format("dtype         bfloat16 recommended: its matmuls run at {:.2f}x float32's rate "
                                        "here (run.dtype / --dtype bfloat16; the memory stays float32)\n",
                                        rates.bfloat16_ratio())
                          : fmt::format("dtype         float32 recommended: bfloat16 matmuls run at {:.2f}x its rate here\n",
                                        rates.bfloat16_ratio()));
  if (rates.bfloat16_slower()) {
    warnings.push_back(fmt::format("bfloat16 matmuls run at {:.2f}x float32's rate on this CPU: train and eval asked "
                                   "for bfloat16 compute in float32 here (INFINI_KEEP_BFLOAT16=1 keeps bfloat16)",
                                   rates.bfloat16_ratio()));
  }
  for (const auto& w : warnings) std::cout << "warning: " << w << "\n";
  if (warnings.empty()) std::cout << "no warnings\n";
}

}  // namespace

void add_doctor_command(CLI::App& app) {
  auto* command = app.add_subcommand("doctor", "Report LibTorch, devices, threads, BLAS and CPU features");
  command->callback(run_doctor);
}

}  // namespace infini::cli
