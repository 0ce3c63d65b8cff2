// Does the data keep up with the model? The image loader (data/inputs.h, data/batch_stream.h)
// measured alone and under a model:
//
//   build/bench/bench_loader --photos 64                       decode + resize rate per core
//   build/bench/bench_loader --run RUN --device cuda --bf16    and the run's test split through
//                                                              its model, fed per batch or fed
//                                                              a tensor already on the device
//
// Photos: JPEG files of --photo-size (500 x 375 RGB, a typical web photo) made in memory, decoded
// and resized to 224 x 224 (bilinear, as ViTImageProcessor) on one thread and on all, in images/s.
// Run: the first --samples test samples as the run reads them (e.g. Fashion-MNIST resized on the
// fly to an imported ViT-B/16's 224 x 224 x 3): the loader alone (batches made on the device,
// nothing else), eval's layer-wise prediction fed by the loader, and the same fed the samples
// already made model-ready on the device; the ratio of the last two says what the data costs.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <functional>

#include "layerwise/core/compat.h"
#include "layerwise/core/error.h"
#include "layerwise/core/parallel.h"
#include "layerwise/core/runtime.h"
#include "layerwise/data/batch_stream.h"
#include "layerwise/data/image_file.h"
#include "layerwise/data/image_pipeline.h"
#include "layerwise/data/image_write.h"
#include "layerwise/data/task_data.h"
#include "layerwise/inference/predict.h"
#include "layerwise/train/checkpoint.h"

namespace lw = layerwise;

namespace {

double seconds(const std::function<void()>& work, const torch::Device& device) {
  lw::compat::synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  work();
  lw::compat::synchronize(device);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// `n` JPEG photos of height x width RGB: smooth colour fields with fine noise (JPEG's work
// depends on the content; flat images decode unrealistically fast).
std::vector<std::string> make_photos(int64_t n, int64_t height, int64_t width) {
  std::vector<std::string> photos;
  for (int64_t i = 0; i < n; ++i) {
    torch::manual_seed(i);
    auto field = torch::nn::functional::interpolate(torch::rand({1, 3, height / 16, width / 16}),
                                                    torch::nn::functional::InterpolateFuncOptions()
                                                        .size(std::vector<int64_t>{height, width})
                                                        .mode(torch::kBilinear)
                                                        .align_corners(false));  // (1, 3, H, W)
    field = (field * 200 + torch::rand_like(field) * 55).clamp(0, 255);
    const auto image = field[0].permute({1, 2, 0}).to(torch::kUInt8).contiguous();  // (H, W, 3)
    photos.push_back(lw::data::encode_jpeg(image, 90));
  }
  return photos;
}

void bench_photos(int64_t n, int64_t height, int64_t width) {
  const auto photos = make_photos(n, height, width);
  lw::data::ImagePipeline pipeline;
  pipeline.channels = 3;
  pipeline.resize = {224, 224};
  const auto one = [&](int64_t i) {
    const auto& bytes = photos[i];
    const auto image = lw::data::decode_image(reinterpret_cast<const uint8_t*>(bytes.data()),
                                              bytes.size(), "photo");
    return lw::data::prepare_pixels(image, pipeline);
  };
  const auto cpu = torch::Device(torch::kCPU);
  one(0);  // warm-up
  const double single = seconds(
      [&] {
        for (int64_t i = 0; i < n; ++i) one(i);
      },
      cpu);
  const double decode_only = seconds(
      [&] {
        for (int64_t i = 0; i < n; ++i)
          lw::data::decode_image(reinterpret_cast<const uint8_t*>(photos[i].data()),
                                 photos[i].size(), "photo");
      },
      cpu);
  const double all = seconds([&] { lw::parallel_items(n, [&](int64_t i) { one(i); }); }, cpu);
  std::printf(
      "photos %lld x %lld JPEG -> 224 x 224 RGB: decode %.0f images/s, decode + resize "
      "%.0f images/s on one core, %.0f images/s on %d threads\n",
      (long long)height, (long long)width, double(n) / decode_only, double(n) / single,
      double(n) / all, torch::get_num_threads());
}

void bench_run(const std::string& run_dir, const torch::Device& device, bool bf16, int64_t samples,
               int64_t batch_size) {
  auto run = lw::train::load_run(run_dir, device);
  auto inputs_and_labels = lw::data::load_split(run.config.data, "test", samples, run_dir);
  const auto& inputs = inputs_and_labels.inputs;
  const auto& labels = inputs_and_labels.labels;
  const auto shape = inputs.sample_shape();
  std::printf("run %s: %lld test samples, %lld x %lld x %lld, %s, batch %lld%s\n", run_dir.c_str(),
              (long long)inputs.size(), (long long)shape[0], (long long)shape[1],
              (long long)shape[2], inputs.per_batch() ? "made per batch" : "a tensor",
              (long long)batch_size, bf16 ? ", bf16" : "");
  const auto n = double(inputs.size());
  const double loader = seconds(
      [&] {
        lw::data::BatchStream stream(inputs, batch_size, device);
        for (lw::data::BatchStream::Batch b; stream.next(b);) {
        }
      },
      device);
  lw::inference::InferenceOptions options;
  options.device = device;
  options.bf16 = bf16;
  options.batch_size = batch_size;
  lw::analysis::LayerPredictions last;
  const auto predict = [&](const lw::data::Inputs& x) {
    last = lw::inference::predict_layers(*run.model, x, labels.slice(0, 0, x.size()),
                                         lw::inference::HeadChoice::last, options);
  };
  const auto ready = lw::data::Inputs(inputs.materialize(device));
  predict(ready.slice(0, std::min<int64_t>(ready.size(), batch_size)));  // warm-up
  const double fed = seconds([&] { predict(inputs); }, device);
  const auto fed_predictions = last.predictions;
  const double on_device = seconds([&] { predict(ready); }, device);
  std::printf(
      "loader alone %.0f images/s; eval fed by the loader %.0f images/s, fed a tensor on "
      "the device %.0f images/s: %.1f%%\n",
      n / loader, n / fed, n / on_device, 100.0 * on_device / fed);
  // The same inputs either way: the same predictions, or the loader handed over wrong batches.
  const auto differ = fed_predictions.ne(last.predictions).sum().item<int64_t>();
  std::printf("predictions (layers x samples) that differ between the two: %lld\n",
              (long long)differ);
  LW_CHECK(differ == 0, "the loader-fed predictions differ from the tensor-fed ones");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The image loader alone and under a model"};
  std::string run_dir, device_name = "cpu";
  bool bf16 = false;
  int64_t photos = 64, photo_height = 375, photo_width = 500, samples = 4096, batch_size = 256;
  app.add_option("--photos", photos, "JPEG photos decoded and resized (0: skip)")
      ->capture_default_str();
  app.add_option("--photo-height", photo_height, "photo height")->capture_default_str();
  app.add_option("--photo-width", photo_width, "photo width")->capture_default_str();
  app.add_option("--run", run_dir, "a run folder: its test split through its model");
  app.add_option("--device", device_name, "cpu or cuda[:N]")->capture_default_str();
  app.add_flag("--bf16", bf16, "CUDA bf16 autocast for the model");
  app.add_option("--samples", samples, "test samples")->capture_default_str();
  app.add_option("--batch-size", batch_size, "batch")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    lw::configure_runtime(0);
    if (photos > 0) bench_photos(photos, photo_height, photo_width);
    if (!run_dir.empty())
      bench_run(run_dir, lw::compat::parse_device(device_name), bf16, samples, batch_size);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_loader: %s\n", e.what());
    return 2;
  }
  return 0;
}
