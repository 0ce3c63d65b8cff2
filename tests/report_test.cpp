// The HTML report: its figures are well-formed SVG, the page is built from small real runs, and a
// real browser (headless Chromium) draws it without console errors.
#include <zlib.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "layerwise/core/atomic_file.h"
#include "layerwise/report/charts.h"
#include "layerwise/report/html_report.h"
#include "layerwise/report/svg.h"
#include "test_util.h"

namespace lr = layerwise::report;
using layerwise::testing::read_json;
using layerwise::testing::run_cli;
using layerwise::testing::run_command;

namespace {

std::string slurp(const std::string& path) {  // binary-safe: PNG files too
  return layerwise::read_file(path);
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// Well-formedness as an XML parser checks it: one root element, every tag closed in order,
// attributes name="value" without a raw '<', and only the five named entities or character
// references after '&'. Returns "" or what is wrong and where.
std::string xml_error(const std::string& xml) {
  std::vector<std::string> open;
  size_t i = 0, roots = 0;
  auto name_at = [&](size_t& j) {
    const size_t start = j;
    while (j < xml.size() &&
           (std::isalnum(static_cast<unsigned char>(xml[j])) || std::strchr(":-_.", xml[j])))
      ++j;
    return xml.substr(start, j - start);
  };
  auto entity_ok = [&](size_t j) {
    const size_t end = xml.find(';', j);
    if (end == std::string::npos) return false;
    const auto e = xml.substr(j + 1, end - j - 1);
    return e == "amp" || e == "lt" || e == "gt" || e == "quot" || e == "apos" ||
           (e.size() > 1 && e[0] == '#');
  };
  while (i < xml.size()) {
    if (xml[i] == '&' && !entity_ok(i)) return "bad entity at " + std::to_string(i);
    if (xml[i] != '<') {
      ++i;
      continue;
    }
    if (xml.compare(i, 2, "<?") == 0 || xml.compare(i, 4, "<!--") == 0) {
      const auto end = xml.find(xml[i + 1] == '?' ? "?>" : "-->", i);
      if (end == std::string::npos) return "unterminated declaration or comment";
      i = end + 2;
      continue;
    }
    size_t j = i + 1;
    const bool closing = xml[j] == '/';
    if (closing) ++j;
    const auto name = name_at(j);
    if (name.empty()) return "tag without a name at " + std::to_string(i);
    const auto tag_end = xml.find('>', j);
    if (tag_end == std::string::npos) return "unterminated tag <" + name;
    if (closing) {
      if (open.empty() || open.back() != name) return "unexpected </" + name + ">";
      open.pop_back();
      i = tag_end + 1;
      continue;
    }
    for (;;) {  // attributes
      while (j < xml.size() && std::isspace(static_cast<unsigned char>(xml[j]))) ++j;
      if (j >= xml.size()) return "unterminated tag <" + name;
      if (xml.compare(j, 2, "/>") == 0 || xml[j] == '>') break;
      const auto attribute = name_at(j);
      if (attribute.empty() || j + 1 >= xml.size() || xml[j] != '=' ||
          (xml[j + 1] != '"' && xml[j + 1] != '\''))
        return "bad attribute in <" + name + "> at " + std::to_string(j);
      const char quote = xml[j + 1];
      const auto end = xml.find(quote, j + 2);
      if (end == std::string::npos) return "unterminated attribute in <" + name + ">";
      const auto value = xml.substr(j + 2, end - j - 2);
      if (value.find('<') != std::string::npos) return "'<' in an attribute of <" + name + ">";
      for (size_t k = value.find('&'); k != std::string::npos; k = value.find('&', k + 1))
        if (!entity_ok(j + 2 + k)) return "bad entity in an attribute of <" + name + ">";
      j = end + 1;
    }
    if (open.empty()) ++roots;
    if (xml[j] == '>') open.push_back(name);
    i = xml.find('>', j) + 1;  // found: the attribute loop stopped at '>' or "/>"
  }
  if (!open.empty()) return "<" + open.back() + "> is never closed";
  return roots == 1 ? "" : std::to_string(roots) + " root elements";
}

// An 8-bit RGB or RGBA PNG (what Chromium writes), decoded to RGBA.
struct Image {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> rgba;
};

uint32_t big_endian(const std::string& s, size_t at) {
  return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 |
         uint32_t(uint8_t(s[at + 2])) << 8 | uint32_t(uint8_t(s[at + 3]));
}

Image read_png(const std::string& path) {
  const auto file = slurp(path);
  EXPECT_EQ(file.compare(0, 8, "\x89PNG\r\n\x1a\n"), 0) << path << " is not a PNG";
  Image image;
  int channels = 0;
  std::string compressed;
  for (size_t at = 8; at + 8 <= file.size();) {
    const uint32_t length = big_endian(file, at);
    const auto type = file.substr(at + 4, 4);
    if (type == "IHDR") {
      image.width = big_endian(file, at + 8);
      image.height = big_endian(file, at + 12);
      EXPECT_EQ(file[at + 16], 8) << "bit depth";
      channels = file[at + 17] == 6 ? 4 : file[at + 17] == 2 ? 3 : 0;
      EXPECT_NE(channels, 0) << "colour type " << int(file[at + 17]);
      EXPECT_EQ(file[at + 20], 0) << "interlaced";
    } else if (type == "IDAT") {
      compressed += file.substr(at + 8, length);
    } else if (type == "IEND") {
      break;
    }
    at += 12 + length;
  }
  const size_t stride = size_t(image.width) * channels;
  std::vector<uint8_t> raw(image.height * (stride + 1));
  uLongf size = raw.size();
  EXPECT_EQ(uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(compressed.data()),
                       compressed.size()),
            Z_OK);
  std::vector<uint8_t> pixels(image.height * stride);
  for (size_t y = 0; y < image.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* row = &pixels[y * stride];
    const uint8_t* up = y > 0 ? &pixels[(y - 1) * stride] : nullptr;
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= size_t(channels) ? row[x - channels] : 0, b = up ? up[x] : 0,
                c = up && x >= size_t(channels) ? up[x - channels] : 0;
      int predicted = 0;
      if (filter == 1) predicted = a;
      if (filter == 2) predicted = b;
      if (filter == 3) predicted = (a + b) / 2;
      if (filter == 4) {
        const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
        predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      row[x] = uint8_t(in[x] + predicted);
    }
  }
  image.rgba.resize(size_t(image.width) * image.height * 4, 255);
  for (size_t p = 0; p < size_t(image.width) * image.height; ++p)
    for (int k = 0; k < channels; ++k) image.rgba[p * 4 + k] = pixels[p * channels + k];
  return image;
}

lr::Series series(const std::string& name, std::vector<double> x, std::vector<double> y,
                  bool dashed = false) {
  lr::Series s;
  s.name = name;
  s.x = std::move(x);
  s.y = std::move(y);
  s.dashed = dashed;
  return s;
}

using layerwise::testing::fashion_mnist_installed;

std::string browser_script() {
  return std::string(LAYERWISE_SOURCE_DIR) + "/scripts/browser.sh";
}

// Measures the page from inside the browser and writes the numbers into the document, where
// --dump-dom shows them: SVG elements, those with a drawn size, colours per heatmap, and the drawn
// length of every line through two distinct points or more.
constexpr const char* kProbe = R"(<script>
const svgs = [...document.querySelectorAll('svg')];
const drawn = svgs.filter(s => { const b = s.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
const heatmapColours = [...document.querySelectorAll('svg g.cells')].map(
    g => new Set([...g.querySelectorAll('rect')].map(r => getComputedStyle(r).fill)).size);
const lines = [...document.querySelectorAll('svg g.series path')]
    .filter(p => new Set((p.getAttribute('d').match(/[ML][^ML]+/g) || []).map(s => s.slice(1).trim())).size > 1)
    .map(p => p.getTotalLength());
const probe = document.createElement('pre');
probe.id = 'lw-probe';
probe.textContent = JSON.stringify({svgs: svgs.length, drawn: drawn.length, heatmapColours, lines});
document.body.appendChild(probe);
console.log('lw-probe done');
</script>)";

}  // namespace

TEST(Charts, NiceTicks) {
  EXPECT_EQ(lr::nice_ticks(1, 12), (std::vector<double>{2, 4, 6, 8, 10, 12}));
  const auto ticks = lr::nice_ticks(0.83, 0.91);  // steps of 0.02
  ASSERT_EQ(ticks.size(), 4u);
  EXPECT_NEAR(ticks[0], 0.84, 1e-12);
  EXPECT_NEAR(ticks[3], 0.90, 1e-12);
  const auto unit = lr::nice_ticks(0, 1);
  ASSERT_EQ(unit.size(), 6u);
  EXPECT_EQ(unit[0], 0.0);
  EXPECT_NEAR(unit[5], 1.0, 1e-12);
}

TEST(Charts, LineAndBarChartsAreWellFormedSvg) {
  lr::ChartOptions options;
  options.title = "accuracy & <depth>";  // escaped in the output
  options.markers.push_back({2, 0.9, "t = 0.7", ""});
  const auto line =
      lr::line_chart_svg({series("standard", {1, 2, 3, 4}, {0.5, 0.7, 0.8, 0.9}),
                          series("aligned", {1, 2, 3, 4}, {0.8, NAN, 0.9, 0.9}, true)},
                         options);
  EXPECT_EQ(xml_error(line), "") << line;
  EXPECT_EQ(count(line, "<g class=\"series\""), 2u);
  EXPECT_EQ(count(line, "<circle"), 7u + 1u);  // one per finite point, one marker
  // The gap: the aligned line starts twice.
  const auto aligned = line.substr(line.find("data-name=\"aligned\""));
  const auto path = aligned.substr(0, aligned.find("/>"));
  EXPECT_EQ(count(path, " M"), 2u);
  EXPECT_NE(line.find("accuracy &amp; &lt;depth&gt;"), std::string::npos);

  const auto bars = lr::bar_chart_svg(
      {"1", "2", "3"}, {series("a", {}, {5, 3, 1}), series("b", {}, {1, 2, 6})}, options);
  EXPECT_EQ(xml_error(bars), "") << bars;
  EXPECT_EQ(count(bars, "</title></rect>"), 6u);  // two series of three bars
  EXPECT_NE(layerwise::testing::error_message([&] {
              lr::bar_chart_svg({"1", "2"}, {series("a", {}, {1})}, {});
            }).find("1 values for 2 categories"),
            std::string::npos);
  EXPECT_NE(xml_error("<svg><g></svg>"), "");  // the checker itself catches a bad nesting
  EXPECT_NE(xml_error("<svg a=\"1 & 2\"/>"), "");
  EXPECT_NE(xml_error("<svg><g></g></svg"), "");  // truncated: an error, not a hang
  EXPECT_NE(xml_error("<svg a"), "");
}

TEST(Charts, IntervalBandsAndMarkedHeatmapCells) {
  // A band around a line: one closed, translucent path along the finite intervals.
  auto with_band = series("cos", {1, 2, 3, 4}, {0.5, 0.6, 0.8, 1.0});
  with_band.band_low = {0.45, 0.55, NAN, 1.0};
  with_band.band_high = {0.55, 0.65, NAN, 1.0};
  const auto line = lr::line_chart_svg({with_band}, {});
  EXPECT_EQ(xml_error(line), "") << line;
  EXPECT_EQ(count(line, "class=\"band\""), 1u);
  const auto band = line.substr(line.find("class=\"band\""));
  EXPECT_EQ(count(band.substr(0, band.find("/>")), " L"), 5u);  // 3 points up, 3 back, closed
  with_band.band_low.pop_back();
  EXPECT_PRED2(layerwise::testing::contains,
               layerwise::testing::error_message([&] { lr::line_chart_svg({with_band}, {}); }),
               "has a band of 3 and 4 values for 4 points");
  // Heatmap cells the null explains get a ring and say so in their tooltip.
  lr::HeatmapOptions options;
  options.marked = torch::tensor({{false, true}, {true, false}});
  options.marked_meaning = "p >= 0.05";
  const auto heatmap = lr::heatmap_svg(torch::tensor({{1.0, 0.1}, {0.1, 1.0}}, torch::kFloat64),
                                       {"a", "b"}, {"a", "b"}, options);
  EXPECT_EQ(xml_error(heatmap), "") << heatmap;
  EXPECT_EQ(count(heatmap, "class=\"marked\""), 2u);
  EXPECT_EQ(count(heatmap, "(p &gt;= 0.05)"), 2u);
  options.marked = torch::zeros({3, 2}, torch::kBool);
  EXPECT_PRED2(layerwise::testing::contains, layerwise::testing::error_message([&] {
                 lr::heatmap_svg(torch::eye(2, torch::kFloat64), {"a", "b"}, {"a", "b"}, options);
               }),
               "marks of shape");
}

TEST(Report, FromRealRunsDrawnInHeadlessChromium) {
  if (!fashion_mnist_installed()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto root = layerwise::testing::temp_dir("report");
  for (const std::string objective : {"standard", "aligned"}) {
    const auto dir = root + "/" + objective;
    for (const auto& command :
         {"train --preset tiny --objective " + objective +
              " --epochs 1 --train-limit 512 --val-fraction 0.02 --batch-size 64 -q --out " + dir,
          "eval " + dir + " --samples 500 -q",
          "similarity " + dir + " --samples 300 -q" +
              (objective == "aligned" ? " --null 5 --bootstrap 5" : ""),  // one run with stats
          "exit " + dir + " --time-batches 64 --time-samples 128 -q"}) {
      const auto result = run_cli(command);
      ASSERT_EQ(result.code, 0) << command << "\n" << result.output;
    }
  }
  const auto out = root + "/report/report.html";
  const auto result = run_cli("report " + root + "/standard " + root + "/aligned -o " + out);
  ASSERT_EQ(result.code, 0) << result.output;

  // The page and its figure files.
  const auto html = slurp(out);
  for (const auto* section : {"id=\"runs\"", "id=\"training\"", "id=\"accuracy\"",
                              "id=\"similarity\"", "id=\"exit\"", "id=\"files\""})
    EXPECT_NE(html.find(section), std::string::npos) << section;
  EXPECT_EQ(html.find("No run has"), std::string::npos);  // every section has its data
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // No network: the only URLs are the SVG namespace of each figure.
  EXPECT_EQ(count(html, "http"), count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_NE(html.find("href=\"../aligned/eval.json\""), std::string::npos);  // relative links
  // The aligned run's statistics: interval bands (cos and cka_linear) and the calibrated table.
  EXPECT_EQ(count(html, "class=\"band\""), 2u);
  EXPECT_NE(html.find("between the null-calibrated matrices"), std::string::npos);
  std::vector<std::string> figures;
  for (const auto& entry : std::filesystem::directory_iterator(root + "/report/report_figures"))
    figures.push_back(entry.path().string());
  // training loss and validation, layer-wise accuracy, saturation, similarity to last, exit
  // curves, and a heatmap per run and measure (cos and cka_linear by default).
  EXPECT_EQ(figures.size(), 6u + 2u * 2u);
  for (const auto& figure : figures) EXPECT_EQ(xml_error(slurp(figure)), "") << figure;
  EXPECT_EQ(count(html, "<svg "), figures.size());

  // Chromium's own XML parser agrees on one figure.
  const auto heatmap = root + "/report/report_figures/heatmap_aligned_cos.svg";
  const auto parsed = run_command(browser_script() + " dom " + heatmap + " 2>/dev/null");
  ASSERT_EQ(parsed.code, 0) << "is chromium installed? scripts/setup.sh installs it";
  EXPECT_EQ(parsed.output.find("parsererror"), std::string::npos) << parsed.output;

  // The page in the browser: every figure laid out, heatmaps in many colours, lines drawn, and
  // nothing on the console.
  auto probed = html;
  probed.insert(probed.rfind("</body>"), kProbe);
  const auto probe_page = root + "/report/probe.html";
  std::ofstream(probe_page) << probed;
  const auto dom =
      run_command(browser_script() + " dom " + probe_page + " 2>" + root + "/console.txt");
  ASSERT_EQ(dom.code, 0);
  const auto start = dom.output.find("<pre id=\"lw-probe\">");
  ASSERT_NE(start, std::string::npos) << dom.output.substr(0, 2000);
  const auto text = dom.output.substr(start + 19, dom.output.find("</pre>", start) - start - 19);
  const auto numbers = nlohmann::json::parse(text);
  EXPECT_EQ(numbers.at("svgs").get<size_t>(), figures.size());
  EXPECT_EQ(numbers.at("drawn"), numbers.at("svgs"));
  ASSERT_EQ(numbers.at("heatmapColours").size(), 4u);
  for (const auto& colours : numbers.at("heatmapColours")) EXPECT_GT(colours.get<int>(), 1);
  EXPECT_GE(numbers.at("lines").size(), 6u);  // lines through two distinct points or more
  for (const auto& length : numbers.at("lines")) EXPECT_GT(length.get<double>(), 0.0);
  // The console carries the probe's own line (so the check can see messages) and nothing else.
  const auto console = slurp(root + "/console.txt");
  EXPECT_NE(console.find("lw-probe done"), std::string::npos) << console;
  EXPECT_EQ(count(console, "CONSOLE"), 1u) << console;

  // A screenshot shows a page with figures, not a blank one.
  const auto shot = root + "/report/report.png";
  ASSERT_EQ(run_command(browser_script() + " screenshot " + out + " " + shot + " 1280,1600").code,
            0);
  const auto image = read_png(shot);
  EXPECT_EQ(image.width, 1280u);
  EXPECT_EQ(image.height, 1600u);
  std::set<uint32_t> colours;
  size_t ink = 0;
  for (size_t p = 0; p < size_t(image.width) * image.height; ++p) {
    const uint8_t* px = &image.rgba[p * 4];
    colours.insert(uint32_t(px[0]) << 16 | uint32_t(px[1]) << 8 | px[2]);
    if (px[0] < 200 || px[1] < 200 || px[2] < 200) ++ink;
  }
  EXPECT_GT(colours.size(), 50u);
  EXPECT_GT(double(ink) / double(image.width * image.height), 0.02);

  // Bad input: one line naming the folder, exit code 2, no page written.
  const auto bad = run_cli("report " + root + " -o " + root + "/bad.html");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("not a run folder"), std::string::npos) << bad.output;
  EXPECT_FALSE(std::ifstream(root + "/bad.html").good());
}
