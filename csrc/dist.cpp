// The binding to c10d, PyTorch's distributed engine, for `dpn train` and
// `dpn evaluate` under torchrun or Slurm (src/dist/; docs/distributed.md).
//
// Kept to what dpn needs and written against the classes that libtorch_cpu.so
// exports: TCPStore (rendezvous), ProcessGroupGloo (CPU collectives),
// broadcast_coalesced, and Reducer, the engine of torch's
// DistributedDataParallel. Using DDP's own Reducer (bucketed gradient
// averaging overlapped with the backward pass) rather than a hand-written
// all-reduce is what makes a dpn run's updates equal torch DDP's.
//
// Every entry point catches C++ exceptions and reports them as a message in
// `err` and a non-zero return, so that nothing unwinds into Rust.
//
// Tensors arrive as tch's `C_tensor*`, which torch-sys defines as an
// `at::Tensor*` (torch-sys's torch_api.h: `typedef torch::Tensor *tensor`).

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#include <torch/csrc/autograd/custom_function.h>

#include <c10/util/Logging.h>

#include "guarded.h"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using dpn::guarded;

struct Dist {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  int rank;
  int world;
};

struct Ddp {
  std::unique_ptr<c10d::Reducer> reducer;
};

struct Store {
  c10::intrusive_ptr<c10d::Store> store;
};

// Hands a store value to Rust as a malloc'd buffer (dpn_buf_free frees it).
void give(const std::vector<uint8_t>& v, uint8_t** out, size_t* outlen) {
  auto* p = static_cast<uint8_t*>(std::malloc(v.empty() ? 1 : v.size()));
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  if (!v.empty()) {
    std::memcpy(p, v.data(), v.size());
  }
  *out = p;
  *outlen = v.size();
}

void all_reduce_sum(Dist* d, at::Tensor& t) {
  std::vector<at::Tensor> one{t};
  d->pg->allreduce(one)->wait();
}

// SyncBatchNorm's semantics (torch.nn.SyncBatchNorm) for `dpn train
// --sync-bn`: the batch statistics of all ranks' batches together, and a
// backward pass that reduces the two gradient sums over the ranks. torch's
// own SyncBatchNorm runs on CUDA only; this one runs wherever Gloo does.
// Statistics are combined in f64 (see forward).
struct SyncBatchNorm : public torch::autograd::Function<SyncBatchNorm> {
  static std::vector<int64_t> reduced_dims(const at::Tensor& x) {
    std::vector<int64_t> dims{0};
    for (int64_t i = 2; i < x.dim(); ++i) {
      dims.push_back(i);
    }
    return dims;
  }

  static std::vector<int64_t> channel_shape(const at::Tensor& x) {
    std::vector<int64_t> shape(x.dim(), 1);
    shape[1] = x.size(1);
    return shape;
  }

  static at::Tensor forward(
      torch::autograd::AutogradContext* ctx,
      const at::Tensor& x,
      const at::Tensor& weight,
      const at::Tensor& bias,
      at::Tensor running_mean,
      at::Tensor running_var,
      double momentum,
      double eps,
      int64_t group) {
    auto* d = reinterpret_cast<Dist*>(group);
    const int64_t c = x.size(1);
    auto dims = reduced_dims(x);
    auto shape = channel_shape(x);
    // Each rank's mean and sum of squared deviations (two passes, in f64),
    // gathered into one [world, 2C + 1] buffer by one all-reduce (each rank
    // fills its own row), then combined as Chan et al.'s parallel variance:
    // as accurate as one process's two-pass statistics over every batch.
    auto xd = x.to(at::kDouble);
    const double n_local = static_cast<double>(x.numel() / c);
    auto mean_local = xd.mean(dims);
    auto m2_local = (xd - mean_local.view(shape)).pow(2).sum(dims);
    auto rows = at::zeros({d->world, 2 * c + 1}, xd.options());
    rows[d->rank].narrow(0, 0, c).copy_(mean_local);
    rows[d->rank].narrow(0, c, c).copy_(m2_local);
    rows[d->rank][2 * c].fill_(n_local);
    all_reduce_sum(d, rows);
    auto counts = rows.narrow(1, 2 * c, 1); // [world, 1]
    const double total = counts.sum().item<double>();
    TORCH_CHECK(total > 1, "SyncBatchNorm needs more than one value per channel");
    auto means = rows.narrow(1, 0, c); // [world, C]
    auto mean = (means * counts).sum(0) / total;
    auto m2 = rows.narrow(1, c, c).sum(0) +
        (counts * (means - mean).pow(2)).sum(0);
    auto var = m2 / total;
    {
      at::NoGradGuard no_grad;
      running_mean.mul_(1 - momentum).add_(
          mean.to(running_mean.scalar_type()), momentum);
      running_var.mul_(1 - momentum).add_(
          (var * (total / (total - 1))).to(running_var.scalar_type()), momentum);
    }
    auto mean_x = mean.to(x.scalar_type());
    auto invstd = (var + eps).rsqrt().to(x.scalar_type());
    auto y = (x - mean_x.view(shape)) * (invstd * weight).view(shape) +
        bias.view(shape);
    ctx->save_for_backward({x, weight, mean_x, invstd});
    ctx->saved_data["group"] = group;
    ctx->saved_data["total"] = total;
    return y;
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto &x = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3];
    auto* d = reinterpret_cast<Dist*>(ctx->saved_data["group"].toInt());
    const double total = ctx->saved_data["total"].toDouble();
    const int64_t c = x.size(1);
    auto dims = reduced_dims(x);
    auto shape = channel_shape(x);
    auto dy = grads[0].contiguous();
    auto xmu = x - mean.view(shape);
    auto sum_dy = dy.sum(dims);
    auto sum_dy_xmu = (dy * xmu).sum(dims);
    auto grad_weight = sum_dy_xmu * invstd;
    auto grad_bias = sum_dy;
    auto both = at::cat({sum_dy, sum_dy_xmu}).to(at::kDouble);
    all_reduce_sum(d, both);
    auto mean_dy = (both.narrow(0, 0, c) / total).to(x.scalar_type());
    auto mean_dy_xmu = (both.narrow(0, c, c) / total).to(x.scalar_type());
    auto grad_x = (dy - mean_dy.view(shape) -
                   xmu * (invstd * invstd * mean_dy_xmu).view(shape)) *
        (invstd * weight).view(shape);
    return {
        grad_x,
        grad_weight,
        grad_bias,
        at::Tensor(),
        at::Tensor(),
        at::Tensor(),
        at::Tensor(),
        at::Tensor()};
  }
};

std::vector<at::Tensor> tensors(at::Tensor** ts, size_t n) {
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    v.push_back(*ts[i]);
  }
  return v;
}

} // namespace

// csrc/dist_nccl.cpp: the NCCL backend, or an error when built without it.
c10::intrusive_ptr<c10d::Backend> dpn_make_nccl_backend(
    const c10::intrusive_ptr<c10d::Store>& store,
    int rank,
    int world,
    std::chrono::milliseconds timeout);

namespace {

// Marks NCCL's failures apart from the rendezvous's, for the message.
c10::intrusive_ptr<c10d::Backend> nccl_backend(
    const c10::intrusive_ptr<c10d::Store>& store,
    int rank,
    int world,
    std::chrono::milliseconds timeout) {
  try {
    return dpn_make_nccl_backend(store, rank, world, timeout);
  } catch (const c10::Error& e) {
    throw std::runtime_error(
        std::string("NCCL backend: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("NCCL backend: ") + e.what());
  }
}

} // namespace

extern "C" {

// The rendezvous store: a TCPStore at host:port, served by this process when
// `server` is non-zero (rank 0, unless torchrun's agent serves it). A server
// given `listen_fd` >= 0 serves on that socket, which src/dist/group.rs binds
// to the address MASTER_ADDR names (TCPStore alone would listen on every
// interface). `prefix` namespaces the keys in a shared store (torchrun's
// restart count). The store's own timeout bounds every get and wait.
void* dpn_store_new(
    const char* host,
    int port,
    int listen_fd,
    int server,
    int world,
    const char* prefix,
    int64_t timeout_ms,
    char* err,
    size_t errlen) {
  Store* out = nullptr;
  // c10d logs its retries and timeouts to stderr as warnings; dpn reports
  // a failure itself, in one line. TORCH_CPP_LOG_LEVEL, as in torch, shows them.
  if (std::getenv("TORCH_CPP_LOG_LEVEL") == nullptr) {
    FLAGS_caffe2_log_level = 3;
  }
  guarded(err, errlen, [&] {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(port);
    opts.isServer = server != 0;
    opts.numWorkers = world;
    opts.waitWorkers = false;
    opts.timeout = std::chrono::milliseconds(timeout_ms);
    opts.useLibUV = true;
    if (server != 0 && listen_fd >= 0) {
      opts.masterListenFd = listen_fd;
    }
    c10::intrusive_ptr<c10d::Store> store =
        c10::make_intrusive<c10d::TCPStore>(std::string(host), opts);
    if (prefix != nullptr && prefix[0] != '\0') {
      store = c10::make_intrusive<c10d::PrefixStore>(prefix, store);
    }
    out = new Store{store};
  });
  return out;
}

void dpn_store_free(void* s) {
  delete static_cast<Store*>(s);
}

int dpn_store_set(
    void* s,
    const char* key,
    const uint8_t* data,
    size_t len,
    char* err,
    size_t errlen) {
  return guarded(err, errlen, [&] {
    std::vector<uint8_t> v(data, data + len);
    static_cast<Store*>(s)->store->set(std::string(key), v);
  });
}

// The value of `key`, waiting for it up to the store's timeout; `*out` is
// malloc'd (free it with dpn_buf_free).
int dpn_store_get(
    void* s,
    const char* key,
    uint8_t** out,
    size_t* outlen,
    char* err,
    size_t errlen) {
  return guarded(err, errlen, [&] {
    give(static_cast<Store*>(s)->store->get(std::string(key)), out, outlen);
  });
}

// Sets `key` to `desired` when it holds `expected` (an empty `expected`:
// when it does not exist), and gives the value it holds afterwards: the
// desired one when this call won.
int dpn_store_compare_set(
    void* s,
    const char* key,
    const uint8_t* expected,
    size_t elen,
    const uint8_t* desired,
    size_t dlen,
    uint8_t** out,
    size_t* outlen,
    char* err,
    size_t errlen) {
  return guarded(err, errlen, [&] {
    std::vector<uint8_t> e(expected, expected + elen);
    std::vector<uint8_t> d(desired, desired + dlen);
    give(
        static_cast<Store*>(s)->store->compareSet(std::string(key), e, d),
        out,
        outlen);
  });
}

// Adds `delta` to the counter `key` (made at 0) and gives its new value.
int dpn_store_add(
    void* s,
    const char* key,
    int64_t delta,
    int64_t* value,
    char* err,
    size_t errlen) {
  return guarded(err, errlen, [&] {
    *value = static_cast<Store*>(s)->store->add(std::string(key), delta);
  });
}

void dpn_buf_free(uint8_t* p) {
  std::free(p);
}

// Makes the process group over `store` (a dpn_store_new handle, which the
// group shares), its keys under `pg_prefix` (the session that the
// rendezvous handed out, src/dist/rendezvous.rs).
// `backend_kind` 0 is Gloo for every tensor; 1 is NCCL for CUDA tensors with Gloo
// for CPU ones (torch's "cpu:gloo,cuda:nccl"), so that the small CPU
// all-reduces dpn makes (stop flags, counts) work under either.
void* dpn_dist_new(
    void* store_handle,
    const char* pg_prefix,
    int rank,
    int world,
    int64_t timeout_ms,
    int backend_kind,
    char* err,
    size_t errlen) {
  Dist* out = nullptr;
  guarded(err, errlen, [&] {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10::intrusive_ptr<c10d::Store> store =
        static_cast<Store*>(store_handle)->store;
    const std::string session(pg_prefix == nullptr ? "" : pg_prefix);
    auto gloo_opts = c10d::ProcessGroupGloo::Options::create(timeout);
    // As torch's Python frontend: GLOO_SOCKET_IFNAME names the network
    // interfaces (comma-separated) to use; else the address the hostname
    // resolves to, else the loopback interface.
    const char* ifnames = std::getenv("GLOO_SOCKET_IFNAME");
    if (ifnames != nullptr && ifnames[0] != '\0') {
      std::string all(ifnames);
      size_t start = 0;
      while (start <= all.size()) {
        auto end = all.find(',', start);
        if (end == std::string::npos) {
          end = all.size();
        }
        if (end > start) {
          gloo_opts->devices.push_back(
              c10d::ProcessGroupGloo::createDeviceForInterface(
                  all.substr(start, end - start)));
        }
        start = end + 1;
      }
    }
    if (gloo_opts->devices.empty()) {
      gloo_opts->devices.push_back(
          c10d::ProcessGroupGloo::createDefaultDevice());
    }
    auto gloo_store =
        c10::make_intrusive<c10d::PrefixStore>(session + "gloo/", store);
    auto backend = c10::make_intrusive<c10d::ProcessGroupGloo>(
        gloo_store, rank, world, gloo_opts);
    auto pg = c10::make_intrusive<c10d::ProcessGroup>(store, rank, world);
    auto gloo = c10::intrusive_ptr<c10d::Backend>(backend);
    pg->setBackend(
        c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, gloo);
    if (backend_kind == 1) {
      auto nccl_store =
          c10::make_intrusive<c10d::PrefixStore>(session + "nccl/", store);
      pg->setBackend(
          c10::DeviceType::CUDA,
          c10d::ProcessGroup::BackendType::NCCL,
          nccl_backend(nccl_store, rank, world, timeout));
      pg->setDefaultBackend(c10d::ProcessGroup::BackendType::NCCL);
    } else {
      pg->setBackend(
          c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::GLOO, gloo);
      pg->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
    }
    out = new Dist{store, pg, rank, world};
  });
  return out;
}

void dpn_dist_free(void* d) {
  delete static_cast<Dist*>(d);
}

// op: 0 sum, 1 max, 2 min.
int dpn_dist_allreduce(
    void* d,
    at::Tensor** ts,
    size_t n,
    int op,
    char* err,
    size_t errlen) {
  return guarded(err, errlen, [&] {
    auto* dist = static_cast<Dist*>(d);
    c10d::AllreduceOptions opts;
    opts.reduceOp = op == 1 ? c10d::ReduceOp::MAX
        : op == 2           ? c10d::ReduceOp::MIN
                            : c10d::ReduceOp::SUM;
    for (size_t i = 0; i < n; ++i) {
      std::vector<at::Tensor> one{*ts[i]};
      dist->pg->allreduce(one, opts)->wait();
    }
  });
}

// Copies rank `root`'s tensors to every rank, as DDP syncs module states.
int dpn_dist_broadcast(
    void* d,
    at::Tensor** ts,
    size_t n,
    int root,
    int64_t bucket_bytes,
    char* err,
    size_t errlen) {
  return guarded(err, errlen, [&] {
    auto* dist = static_cast<Dist*>(d);
    auto v = tensors(ts, n);
    c10d::broadcast_coalesced(
        dist->pg, v, static_cast<size_t>(bucket_bytes), root);
  });
}

// DDP's Reducer over `params` (in the model's order), with the buckets DDP
// computes by default (the first 1 MiB, then 25 MiB each, in reverse order
// of the parameters, as gradients become ready in the backward pass).
void* dpn_ddp_new(
    void* d,
    at::Tensor** params,
    const char** names,
    size_t n,
    int64_t bucket_bytes,
    int64_t first_bucket_bytes,
    char* err,
    size_t errlen) {
  Ddp* out = nullptr;
  guarded(err, errlen, [&] {
    auto* dist = static_cast<Dist*>(d);
    auto ps = tensors(params, n);
    std::vector<bool> sparse(n, false);
    std::vector<size_t> limits{
        static_cast<size_t>(first_bucket_bytes), static_cast<size_t>(bucket_bytes)};
    auto [indices, per_bucket_limits] = c10d::compute_bucket_assignment_by_size(
        ps, limits, sparse, /*tensor_indices=*/{}, /*logger=*/std::nullopt);
    std::reverse(indices.begin(), indices.end());
    std::reverse(per_bucket_limits.begin(), per_bucket_limits.end());
    std::unordered_map<size_t, std::string> param_names;
    for (size_t i = 0; i < n; ++i) {
      param_names[i] = names[i];
    }
    std::vector<int64_t> caps(per_bucket_limits.begin(), per_bucket_limits.end());
    out = new Ddp{std::make_unique<c10d::Reducer>(
        ps,
        indices,
        dist->pg,
        sparse,
        bucket_bytes,
        /*find_unused_parameters=*/false,
        /*gradient_as_bucket_view=*/false,
        param_names,
        first_bucket_bytes,
        /*skip_all_reduce_unused_params=*/false,
        /*use_python_reducer=*/false,
        caps)};
  });
  return out;
}

// What DDP's forward does around the module's forward in training: rebuild
// the buckets once (in the order gradients became ready) and arm the hooks
// that all-reduce the gradients during the next backward pass.
int dpn_ddp_rebuild_buckets(void* r, char* err, size_t errlen) {
  return guarded(err, errlen, [&] {
    static_cast<Ddp*>(r)->reducer->rebuild_buckets();
  });
}

int dpn_ddp_prepare(
    void* r,
    at::Tensor** outputs,
    size_t n,
    char* err,
    size_t errlen) {
  return guarded(err, errlen, [&] {
    static_cast<Ddp*>(r)->reducer->prepare_for_backward(tensors(outputs, n));
  });
}

// Training-mode BatchNorm over all ranks' batches (SyncBatchNorm above);
// returns a new tensor handle for tch, or null with `err` set.
at::Tensor* dpn_sync_batch_norm(
    void* d,
    at::Tensor* x,
    at::Tensor* weight,
    at::Tensor* bias,
    at::Tensor* running_mean,
    at::Tensor* running_var,
    double momentum,
    double eps,
    char* err,
    size_t errlen) {
  at::Tensor* out = nullptr;
  guarded(err, errlen, [&] {
    out = new at::Tensor(SyncBatchNorm::apply(
        *x,
        *weight,
        *bias,
        *running_mean,
        *running_var,
        momentum,
        eps,
        reinterpret_cast<int64_t>(d)));
  });
  return out;
}

void dpn_ddp_free(void* r) {
  delete static_cast<Ddp*>(r);
}

} // extern "C"
