// Image folders and the per-batch image pipeline: PNG / JPEG encoding read back, folder layouts
// and their splits, the pipeline's shapes and values, and a folder of real files of mixed sizes
// and modes (written by `layerwise example-images`) trained, evaluated and reported through the
// CLI, with a corrupt file refused or skipped and counted.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "layerwise/core/atomic_file.h"
#include "layerwise/data/batch_stream.h"
#include "layerwise/data/image_dataset.h"
#include "layerwise/data/image_file.h"
#include "layerwise/data/image_folder.h"
#include "layerwise/data/image_pipeline.h"
#include "layerwise/data/image_write.h"
#include "layerwise/data/task_data.h"
#include "test_util.h"

namespace lw = layerwise;
namespace ld = layerwise::data;
using lw::testing::max_diff;

namespace {

// A deterministic uint8 image (H, W, C) with structure (so resizes and codecs have work to do).
torch::Tensor pattern(int64_t h, int64_t w, int64_t c, int64_t seed = 0) {
  torch::manual_seed(seed);
  const auto smooth = torch::rand({1, c, h / 4 + 1, w / 4 + 1});
  const auto up =
      torch::nn::functional::interpolate(smooth, torch::nn::functional::InterpolateFuncOptions()
                                                     .size(std::vector<int64_t>{h, w})
                                                     .mode(torch::kBilinear)
                                                     .align_corners(false));
  return up.squeeze(0).permute({1, 2, 0}).mul(255).round().to(torch::kUInt8).contiguous();
}

void write_png(const std::string& path, const torch::Tensor& image) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  lw::write_file_atomic(path, ld::encode_png(image));
}

}  // namespace

TEST(ImageWrite, PngRoundTripsEveryModeExactly) {
  const auto dir = lw::testing::temp_dir("png_round_trip");
  for (int64_t c = 1; c <= 4; ++c) {
    const auto image = pattern(17, 23, c, c);
    write_png(dir + "/x.png", image);
    EXPECT_TRUE(torch::equal(ld::read_image(dir + "/x.png"), image)) << c << " channels";
  }
  lw::testing::remove_tree(dir);
}

TEST(ImageWrite, JpegRoundTripsCloselyAndItsExifOrientationIsHonoured) {
  const auto dir = lw::testing::temp_dir("jpeg_round_trip");
  for (int64_t c : {1, 3}) {
    const auto image = pattern(32, 24, c, c);
    lw::write_file_atomic(dir + "/x.jpg", ld::encode_jpeg(image, 100));
    // Lossy (colour is subsampled 2 x 2, and this colour noise is fine): close on average.
    const auto mean_diff = [&](const torch::Tensor& a) {
      return (a.to(torch::kFloat32) - image.to(torch::kFloat32)).abs().mean().item<double>();
    };
    EXPECT_LE(mean_diff(ld::read_image(dir + "/x.jpg")), 8) << c << " channels";
    // Stored turned counter-clockwise, tagged "rotate 90 clockwise": read upright.
    lw::write_file_atomic(dir + "/r.jpg",
                          ld::encode_jpeg(image.rot90(1, {0, 1}).contiguous(), 100, 6));
    const auto upright = ld::read_image(dir + "/r.jpg");
    ASSERT_EQ(upright.sizes(), image.sizes());
    EXPECT_LE(mean_diff(upright), 8);
    EXPECT_GT(mean_diff(upright.flip({0, 1})), 3 * mean_diff(upright));  // and not turned 180
  }
  EXPECT_NE(lw::testing::error_message([] { ld::encode_jpeg(pattern(4, 4, 2), 90); }).find("alpha"),
            std::string::npos);
  lw::testing::remove_tree(dir);
}

TEST(ImagePipeline, ShapesConversionsAndNormalization) {
  ld::ImagePipeline p;
  p.channels = 3;
  EXPECT_EQ(p.output_shape(30, 40), (std::vector<int64_t>{3, 30, 40}));
  p.resize = {20};  // the shorter edge to 20
  EXPECT_EQ(p.output_shape(30, 40), (std::vector<int64_t>{3, 20, 26}));
  p.resize = {16, 12};
  EXPECT_EQ(p.output_shape(30, 40), (std::vector<int64_t>{3, 16, 12}));
  p.crop = {8};
  EXPECT_EQ(p.output_shape(30, 40), (std::vector<int64_t>{3, 8, 8}));

  // Grey to RGB repeats the resized grey image; the crop takes its centre.
  const auto grey = pattern(30, 40, 1);
  p.resample = ld::ResizeFilter::bicubic;
  const auto resized = ld::resize_image(grey, 16, 12, ld::ResizeFilter::bicubic);
  const auto expected = ld::center_crop(resized, 8, 8).expand({-1, -1, 3});
  EXPECT_TRUE(torch::equal(ld::prepare_pixels(grey, p), expected));
  // RGBA: alpha dropped, then luma as Pillow's convert("L").
  ld::ImagePipeline to_grey;
  const auto rgba = pattern(5, 6, 4);
  EXPECT_TRUE(torch::equal(ld::prepare_pixels(rgba, to_grey), ld::to_channels(rgba, 1)));

  // (x / 255 - mean) / std, per channel, channels first.
  p.mean = {0.5, 0.25, 0.0};
  p.std = {0.5, 0.25, 1.0};
  const auto pixels = torch::tensor({0, 255, 51}, torch::kUInt8).view({1, 1, 1, 3});
  const auto x = ld::normalize_pixels(pixels, p);  // (1, 3, 1, 1)
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{1, 3, 1, 1}));
  EXPECT_NEAR(x[0][0].item<double>(), -1.0, 1e-6);
  EXPECT_NEAR(x[0][1].item<double>(), 3.0, 1e-6);
  EXPECT_NEAR(x[0][2].item<double>(), 0.2, 1e-6);
}

TEST(ImagePipeline, InputsMakeTheSameBatchesWhicheverWayTheyAreAsked) {
  auto images = std::make_shared<ld::StoredImages>();
  for (int64_t i = 0; i < 7; ++i) images->push_back(pattern(20 + i, 30 - i, i % 2 ? 3 : 1, i));
  ld::ImagePipeline p;
  p.channels = 3;
  p.resize = {12, 12};
  p.mean = {0.5};
  p.std = {0.25};
  const auto index = torch::tensor({6, 0, 3, 5, 1}, torch::kInt64);
  const ld::Inputs inputs(images, index, p);
  EXPECT_EQ(inputs.size(), 5);
  EXPECT_EQ(inputs.sample_shape(), (std::vector<int64_t>{3, 12, 12}));
  const auto all = inputs.materialize(torch::kCPU);  // (5, 3, 12, 12)
  for (int64_t i = 0; i < 5; ++i) {
    const auto one = ld::prepare_pixels((*images)[index[i].item<int64_t>()], p).unsqueeze(0);
    EXPECT_TRUE(torch::equal(all[i], ld::normalize_pixels(one, p)[0])) << i;
  }
  EXPECT_TRUE(torch::equal(inputs.slice(1, 4).batch(1, 3, torch::kCPU), all.slice(0, 2, 4)));
  EXPECT_TRUE(torch::equal(inputs.gather(torch::tensor({4, 0}), torch::kCPU),
                           torch::stack({all[4], all[0]})));
  // The stream gives every batch once, in order, the last one short.
  ld::BatchStream stream(inputs, 2, torch::kCPU);
  std::vector<torch::Tensor> parts;
  for (ld::BatchStream::Batch b; stream.next(b);) parts.push_back(b.inputs);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_TRUE(torch::equal(torch::cat(parts), all));
  // Batches of one: the queue runs two ahead; a stream left half-read waits for its threads.
  parts.clear();
  {
    ld::BatchStream ones(inputs, 1, torch::kCPU);
    for (ld::BatchStream::Batch b; ones.next(b);) parts.push_back(b.inputs);
    ld::BatchStream abandoned(inputs, 1, torch::kCPU);
    ld::BatchStream::Batch first;
    ASSERT_TRUE(abandoned.next(first));
  }
  ASSERT_EQ(parts.size(), 5u);
  EXPECT_TRUE(torch::equal(torch::cat(parts), all));
  // Sizes that do not meet without a resize are refused, naming the image.
  p.resize.clear();
  EXPECT_NE(lw::testing::error_message([&] {
              ld::Inputs(images, index, p);
            }).find("images of different sizes"),
            std::string::npos);
}

TEST(ImagePipelineCuda, StreamedBatchesOnTheGpuEqualTheCpuOnes) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  // Made on a side stream, used on the current one: each batch read right away by a kernel there.
  auto images = std::make_shared<ld::StoredImages>();
  for (int64_t i = 0; i < 64; ++i) images->push_back(pattern(40, 40, 3, i));
  ld::ImagePipeline p;
  p.channels = 3;
  p.resize = {224, 224};
  const ld::Inputs inputs(images, torch::arange(64), p);
  const auto all = inputs.materialize(torch::kCPU);
  ld::BatchStream stream(inputs, 8, torch::kCUDA);
  std::vector<torch::Tensor> sums;
  for (ld::BatchStream::Batch b; stream.next(b);) sums.push_back(b.inputs.sum({1, 2, 3}));
  EXPECT_TRUE(torch::cat(sums).cpu().allclose(all.sum({1, 2, 3}), 1e-4, 1e-2));
}

TEST(ImageFolder, LayoutsSplitsAndBadFiles) {
  const auto dir = lw::testing::temp_dir("image_folder_layouts");
  // One level of class folders: the run splits it, stratified and seeded.
  for (int64_t i = 0; i < 40; ++i)
    write_png(dir + "/flat/" + (i % 2 ? "cat" : "dog") + "/" + std::to_string(i) + ".png",
              pattern(8, 8, 1, i));
  lw::write_file_atomic(dir + "/flat/cat/notes.txt", "not an image");
  const auto flat = ld::scan_image_folder(dir + "/flat");
  EXPECT_FALSE(flat.split_folders);
  EXPECT_EQ(flat.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(flat.train.size(), 40);
  ld::DataConfig c;
  c.dataset = ld::Dataset::folder;
  c.dir = dir + "/flat";
  c.val_fraction = 0.1;
  c.test_fraction = 0.2;
  auto task = ld::load_task(c);
  const auto test = ld::load_split(c, "test");
  EXPECT_EQ(task.train.inputs.size() + task.val.inputs.size() + test.inputs.size(), 40);
  EXPECT_EQ(test.inputs.size(), 8);  // 20% of each class
  EXPECT_EQ(test.labels.sum().item<int64_t>(), 4);
  EXPECT_EQ(c.channels, 1);
  EXPECT_GT(c.std, 0);
  // Same seed, same split: the validation samples load_split rebuilds are load_task's.
  EXPECT_TRUE(torch::equal(ld::load_split(c, "val").inputs.materialize(torch::kCPU),
                           task.val.inputs.materialize(torch::kCPU)));

  // Split folders; a class folder the training folder lacks is refused.
  for (const char* split : {"train", "test"})
    for (const char* cls : {"a", "b"})
      for (int i = 0; i < 3; ++i)
        write_png(dir + "/split/" + split + "/" + cls + "/" + std::to_string(i) + ".png",
                  pattern(6 + i, 6, 3, i));
  const auto split = ld::scan_image_folder(dir + "/split");
  EXPECT_TRUE(split.split_folders);
  EXPECT_EQ(split.test.size(), 6);
  write_png(dir + "/split/test/zebra/0.png", pattern(6, 6, 3));
  EXPECT_NE(lw::testing::error_message([&] {
              ld::scan_image_folder(dir + "/split");
            }).find("zebra: a class the training folder does not have"),
            std::string::npos);

  // A corrupt file stops the load naming it, or is skipped and counted.
  lw::write_file_atomic(dir + "/flat/dog/broken.png",
                        ld::encode_png(pattern(8, 8, 1)).substr(0, 50));
  c.mean = c.std = 0;
  const auto message = lw::testing::error_message([&] { ld::load_task(c); });
  EXPECT_NE(message.find("broken.png"), std::string::npos) << message;
  EXPECT_NE(message.find("--skip-bad-images"), std::string::npos) << message;
  c.skip_bad_images = true;
  ld::load_task(c);
  EXPECT_EQ(c.skipped_images + (ld::load_split(c, "test").inputs.size() == 8 ? 0 : 1), 1);
  lw::testing::remove_tree(dir);
}

TEST(ImageFolder, FashionMnistResizedAndRepeatedPerBatch) {
  if (!lw::testing::fashion_mnist_installed()) GTEST_SKIP() << "needs dataset-fashion-mnist";
  ld::DataConfig c;
  c.train_limit = 64;
  c.val_limit = 16;
  c.resize = {56, 56};
  c.channels = 3;
  const auto task = ld::load_task(c);
  EXPECT_TRUE(task.train.inputs.per_batch());  // never held at model size
  EXPECT_EQ(task.input_shape, (std::vector<int64_t>{3, 56, 56}));
  const auto batch = task.train.inputs.batch(0, 4, torch::kCPU);      // (4, 3, 56, 56)
  EXPECT_TRUE(torch::equal(batch.select(1, 0), batch.select(1, 2)));  // grey repeated
  // The first image, by hand: the stored pixels, Pillow's bilinear resize, the measured
  // normalization.
  const auto stored = ld::load_fashion_mnist("", "train");
  ld::DataConfig plain;
  plain.train_limit = 64;
  const auto reference = ld::load_task(plain);
  EXPECT_NEAR(c.mean, plain.mean, 1e-9);
  const auto first_index = ld::split_train_val(stored.size(), c.val_fraction, c.split_seed)
                               .train_index[0]
                               .item<int64_t>();
  const auto pixels =
      stored.images[first_index].mul(255).round().to(torch::kUInt8).permute({1, 2, 0});
  const auto resized = ld::resize_image(pixels.contiguous(), 56, 56, ld::ResizeFilter::bilinear);
  const auto expected = resized.to(torch::kFloat32).div(255).sub(c.mean).div(c.std);
  EXPECT_LE(max_diff(batch[0][1], expected.squeeze(2)), 1e-5);
}

TEST(ImageFolder, ExampleImagesTrainEvaluateAndReportThroughTheCli) {
  if (!lw::testing::fashion_mnist_installed()) GTEST_SKIP() << "needs dataset-fashion-mnist";
  const auto dir = lw::testing::temp_dir("example_images");
  const auto photos = dir + "/photos";
  auto made = lw::testing::run_cli("example-images -q --out " + photos +
                                   " --train-per-class 12 --test-per-class 4 --corrupt");
  ASSERT_EQ(made.code, 0) << made.output;
  const std::string train = "train -q --dataset folder --data-dir " + photos +
                            " --preset tiny --epochs 2 --batch-size 32 --val-fraction 0.2 ";
  // Mixed sizes: refused without a resize; the corrupt file: refused naming it.
  auto sizes = lw::testing::run_cli(train + "--skip-bad-images --out " + dir + "/no-resize");
  EXPECT_EQ(sizes.code, 2) << sizes.output;
  EXPECT_NE(sizes.output.find("images of different sizes"), std::string::npos) << sizes.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/no-resize/config.json"));
  auto bad = lw::testing::run_cli(train + "--image-size 28 --out " + dir + "/bad");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("truncated.png"), std::string::npos) << bad.output;

  const auto run = dir + "/run";
  auto trained = lw::testing::run_cli(train +
                                      "--image-size 28 --skip-bad-images --objective "
                                      "aligned --out " +
                                      run);
  ASSERT_EQ(trained.code, 0) << trained.output;
  const auto config = lw::testing::read_json(run + "/config.json");
  EXPECT_EQ(config["data"]["skipped_images"], 1);
  EXPECT_EQ(config["data"]["channels"], 3);
  EXPECT_EQ(config["data"]["resize"], nlohmann::json({28, 28}));
  EXPECT_EQ(config["model"]["image_size"], 28);
  EXPECT_EQ(config["model"]["in_channels"], 3);
  auto eval = lw::testing::run_cli("eval -q " + run);
  ASSERT_EQ(eval.code, 0) << eval.output;
  const auto result = lw::testing::read_json(run + "/eval.json");
  EXPECT_EQ(result.at("n_samples"), 40);  // 4 test images of each of the 10 classes
  ASSERT_EQ(lw::testing::run_cli("similarity -q " + run).code, 0);
  auto report = lw::testing::run_cli("report -q " + run + " -o " + dir + "/report.html");
  EXPECT_EQ(report.code, 0) << report.output;
  lw::testing::remove_tree(dir);
}
