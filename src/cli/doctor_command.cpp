// `infini doctor`: what this machine offers LibTorch, and what will cost speed.
#include <iostream>
#include <torch/torch.h>

#include "cli/commands.h"
#include "core/system.h"

namespace infini::cli {

namespace {

void run_doctor() {
  std::vector<std::string> warnings;
  std::cout << "LibTorch      " << TORCH_VERSION << "\n";
  std::cout << "devices      ";
  for (const auto& d : available_devices()) std::cout << " " << d;
  std::cout << "\n";
  std::cout << "threads       " << torch::get_num_threads() << " intra-op (default), "
            << std::thread::hardware_concurrency() << " cores\n";
  if (torch::get_num_threads() < static_cast<int>(std::thread::hardware_concurrency())) {
    warnings.push_back("LibTorch defaults to " + std::to_string(torch::get_num_threads()) +
                       " thread(s) here; infini commands set one per core (--threads N to choose)");
  }
  const auto cpu = cpu_features();
  std::cout << "CPU           " << cpu.model << "\n";
  std::cout << "CPU features  AVX2 " << (cpu.avx2 ? "yes" : "no") << ", AVX-512 " << (cpu.avx512f ? "yes" : "no")
            << ", AVX-512 BF16 " << (cpu.avx512_bf16 ? "yes" : "no") << ", AMX " << (cpu.amx ? "yes" : "no") << "\n";
  if (!cpu.avx2) warnings.push_back("no AVX2: matrix multiplies will be slow");
  if (!cpu.avx512_bf16) warnings.push_back("no AVX-512 BF16: bfloat16 compute on this CPU is emulated and slow");
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
  for (const auto& w : warnings) std::cout << "warning: " << w << "\n";
  if (warnings.empty()) std::cout << "no warnings\n";
}

}  // namespace

void add_doctor_command(CLI::App& app) {
  auto* command = app.add_subcommand("doctor", "Report LibTorch, devices, threads, BLAS and CPU features");
  command->callback(run_doctor);
}

}  // namespace infini::cli
