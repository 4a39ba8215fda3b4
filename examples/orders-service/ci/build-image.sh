#!/bin/sh
# Build the service image and describe it for the deploy stages.
#
#   BASE_IMAGE=localhost/conveyor/python:3-slim COMMIT_ID=$(git rev-parse HEAD) ci/build-image.sh
#
# Writes imagedefinitions.json ([{"name":"api","imageUri":"<repo>:<tag>"}], the standard ECS
# deploy input) at the service root, and appends IMAGE_URI=... and IMAGE_TAG=... to the file named
# by $CONVEYOR_OUTPUT_ENV when Conveyor runs it (the Build action's outputVariables).
set -eu

cd "$(dirname "$0")/.."

CONTAINER_ENGINE="${CONTAINER_ENGINE:-podman}"
BASE_IMAGE="${BASE_IMAGE:-python:3.12-slim}"
IMAGE_REPO="${IMAGE_REPO:-localhost/orders-service}"
CONTAINER=api  # containerDefinitions[].name in taskdef.json
COMMIT_ID="${COMMIT_ID:-}"
if [ -z "${IMAGE_TAG:-}" ]; then
    if [ -n "$COMMIT_ID" ]; then
        IMAGE_TAG="$(printf '%s' "$COMMIT_ID" | cut -c 1-7)"
    else
        IMAGE_TAG=latest
    fi
fi
IMAGE_URI="$IMAGE_REPO:$IMAGE_TAG"

echo "building $IMAGE_URI from $BASE_IMAGE with $CONTAINER_ENGINE"
"$CONTAINER_ENGINE" build \
    --build-arg BASE_IMAGE="$BASE_IMAGE" \
    --build-arg COMMIT_SHA="$COMMIT_ID" \
    -t "$IMAGE_URI" \
    -f Containerfile .

printf '[{"name":"%s","imageUri":"%s"}]\n' "$CONTAINER" "$IMAGE_URI" > imagedefinitions.json
echo "wrote imagedefinitions.json: $(cat imagedefinitions.json)"

if [ -n "${CONVEYOR_OUTPUT_ENV:-}" ]; then
    printf 'IMAGE_URI=%s\nIMAGE_TAG=%s\n' "$IMAGE_URI" "$IMAGE_TAG" >> "$CONVEYOR_OUTPUT_ENV"
fi
