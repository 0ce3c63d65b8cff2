set -x
cmake --build build-cuda -j16 >/dev/null 2>&1 || { torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)'); cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DLAYERWISE_CUDA_ARCH=9.0 -DCMAKE_PREFIX_PATH="$torch_prefix;$PWD/.deps/usr" >/dev/null && cmake --build build-cuda -j16 2>&1 | grep -E "error" ; }
build-cuda/tests/layerwise_tests --gtest_filter='-Safetensors.RoundTrips*' 2>&1 | grep -E "^\[  (PASSED|FAILED|SKIPPED) |Failure|CudaMatchesCpu|Expected|Which|evaluates" | head -40
build-cuda/tests/layerwise_tests --gtest_filter='Safetensors.RoundTrips*' > /tmp/rt.log 2>&1; echo "rc=$?"; tail -5 /tmp/rt.log
cuda-gdb -batch -ex run -ex bt --args build-cuda/tests/layerwise_tests --gtest_filter='Safetensors.RoundTripsEvery*' 2>&1 | grep -vE "^\[New Thread|^\[Thread" | tail -40
