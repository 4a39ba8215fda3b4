"""The ECS file formats Conveyor reads as AWS does: task definitions (taskdef.py, validated by
taskdef_check.py, with Fargate task sizes in task_size.py) and the image files a pipeline hands to
a deploy (imagedefs.py: imagedefinitions.json, imageDetail.json)."""
