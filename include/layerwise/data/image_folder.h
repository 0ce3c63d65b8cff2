// Labelled image folders in the layout torchvision's ImageFolder reads: one sub-folder per class,
// its name the class name, holding PNG and JPEG files. Either split into
//   DIR/train/<class>/..., DIR/val/<class>/... (optional), DIR/test/<class>/... (optional),
// or one level of class folders DIR/<class>/... that the run splits itself.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "layerwise/data/inputs.h"

namespace layerwise::data {

/// Image files with their labels.
struct ImageFiles {
  std::vector<std::string> paths;
  std::vector<int64_t> labels;

  int64_t size() const { return int64_t(paths.size()); }
  /// The files at `index`, in that order.
  ImageFiles subset(const std::vector<int64_t>& index) const;
};

struct ImageFolder {
  std::vector<std::string> class_names;  // sorted class folder names; index = label
  bool split_folders = false;            // DIR/train exists (else one level of class folders)
  ImageFiles train, val, test;           // split_folders: what DIR/train, val, test hold;
                                         // else every file in `train`
};

/// Lists the folder: classes from the training folder's (or DIR's) sub-folders, sorted by name;
/// files with the extensions .png, .jpg, .jpeg (any case), sorted by path; other files ignored.
/// Throws layerwise::Error naming the folder when it is missing, has fewer than 2 class folders
/// or no images, or when val / test hold a class folder the training folder does not.
ImageFolder scan_image_folder(const std::string& dir);

/// Decoded images at their stored size, with the labels of the files that decoded.
struct DecodedImages {
  std::shared_ptr<StoredImages> images;  // uint8 (H, W, C) each
  torch::Tensor labels;                  // (N) int64
  std::vector<std::string> skipped;      // "path: what is wrong", skip_bad only
  int64_t max_channels = 0;              // the most channels an image has (alpha not counted)
};

/// Decodes every file on the intra-op threads (data/image_file.h: EXIF orientation applied).
/// An unreadable file stops the load with its error and the advice to pass --skip-bad-images,
/// unless skip_bad: then it is left out and listed in `skipped`. `progress` (non-empty) labels a
/// progress line on stderr.
DecodedImages decode_image_files(const ImageFiles& files, bool skip_bad,
                                 const std::string& progress);

}  // namespace layerwise::data
