"""RegisterTaskDefinition's rules for the nested objects and for how fields combine, one file change
from valid each (refused), and the same features written as ECS accepts them. Every case names its
source: a botocore ecs/2014-11-13 shape (structure, enums) or the API reference text of the field."""

from __future__ import annotations

import copy

import pytest

from tests.config.test_taskdef import add, c0, found, taskdef

EC2_BASE = {
    "family": "orders", "networkMode": "bridge", "requiresCompatibilities": ["EC2"],
    "containerDefinitions": [{"name": "api", "image": "nginx:1.27", "memory": 256,
                              "portMappings": [{"containerPort": 80, "hostPort": 0}]}],
}


def ec2(change=None) -> dict:
    data = copy.deepcopy(EC2_BASE)
    if change:
        change(data)
    return data


def vol(data: dict, **volume) -> None:
    data.setdefault("volumes", []).append(volume)


# --- accepted: the features as ECS takes them -------------------------------------------------------

ACCEPTED = [
    ("Volume/MountPoint: EFS with access point, IAM and transit encryption", taskdef(lambda d: (
        vol(d, name="data", efsVolumeConfiguration={"fileSystemId": "fs-1", "rootDirectory": "/",
                                                    "transitEncryption": "ENABLED", "authorizationConfig": {
                                                        "accessPointId": "fsap-1", "iam": "ENABLED"}}),
        c0(d).update(mountPoints=[{"sourceVolume": "data", "containerPath": "/data", "readOnly": True}])))),
    ("ContainerDefinition.volumesFrom / links / hostname in bridge mode", ec2(lambda d: (
        add(d, name="side", image="busybox", essential=False, memory=64, hostname="side",
            links=["api:web"], volumesFrom=[{"sourceContainer": "api", "readOnly": True}],
            extraHosts=[{"hostname": "db", "ipAddress": "10.0.0.5"}]),
        vol(d, name="cache", host={"sourcePath": "/var/cache"}, ),
        vol(d, name="scratch", dockerVolumeConfiguration={"scope": "shared", "autoprovision": True,
                                                          "driver": "local"}),
        c0(d).update(mountPoints=[{"sourceVolume": "cache", "containerPath": "/cache"},
                                  {"sourceVolume": "scratch", "containerPath": "/scratch"}])))),
    ("LinuxParameters on EC2 (devices, tmpfs, swap, capabilities)", ec2(lambda d: c0(d).update(linuxParameters={
        "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}, "initProcessEnabled": True,
        "devices": [{"hostPath": "/dev/fuse", "permissions": ["read", "write"]}], "sharedMemorySize": 64,
        "tmpfs": [{"containerPath": "/tmp", "size": 64, "mountOptions": ["noexec"]}], "maxSwap": 512,
        "swappiness": 10}))),
    ("LinuxParameters on FARGATE: init process and SYS_PTRACE", taskdef(lambda d: c0(d).update(linuxParameters={
        "initProcessEnabled": True, "capabilities": {"add": ["SYS_PTRACE"], "drop": ["NET_RAW"]}}))),
    ("Ulimit / LogConfiguration awslogs / FireLens router", taskdef(lambda d: (
        c0(d).update(ulimits=[{"name": "nofile", "softLimit": 65535, "hardLimit": 65535}],
                     logConfiguration={"logDriver": "awsfirelens", "options": {"Name": "cloudwatch"},
                                       "secretOptions": [{"name": "apikey", "valueFrom": "arn:x"}]}),
        add(d, name="router", image="fluent-bit", essential=True, firelensConfiguration={
            "type": "fluentbit", "options": {"enable-ecs-log-metadata": "true", "config-file-type": "file",
                                             "config-file-value": "/extra.conf"}},
            logConfiguration={"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "us-east-1",
                                                                  "awslogs-stream-prefix": "router"}})))),
    ("ContainerRestartPolicy / EphemeralStorage / RuntimePlatform / tags", taskdef(lambda d: (
        c0(d).update(restartPolicy={"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60}),
        d.update(ephemeralStorage={"sizeInGiB": 50}, pidMode="task",
                 runtimePlatform={"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
                 tags=[{"key": "team", "value": "orders"}, {"key": "cost center", "value": ""}])))),
    ("PortMapping: tcp and udp on one port, a range, Service Connect name", taskdef(lambda d: c0(d).update(
        portMappings=[{"containerPort": 53, "protocol": "tcp", "name": "dns-tcp", "appProtocol": "http"},
                      {"containerPort": 53, "protocol": "udp", "name": "dns_udp"},
                      {"containerPortRange": "9000-9099"}]))),
    ("SystemControl: net.* in awsvpc, IPC sysctls with ipcMode task", ec2(lambda d: (
        d.update(ipcMode="task"),
        c0(d).update(systemControls=[{"namespace": "net.core.somaxconn", "value": "1024"},
                                     {"namespace": "kernel.shmmax", "value": "68719476736"},
                                     {"namespace": "fs.mqueue.msg_max", "value": "20"}])))),
    ("ResourceRequirement GPU on EC2 / InferenceAccelerator by deviceName", ec2(lambda d: (
        d.update(inferenceAccelerators=[{"deviceName": "eia", "deviceType": "eia2.medium"}]),
        c0(d).update(resourceRequirements=[{"type": "GPU", "value": "1"},
                                           {"type": "InferenceAccelerator", "value": "eia"}])))),
    ("ProxyConfiguration (App Mesh) names a container", taskdef(lambda d: (
        add(d, name="envoy", image="envoy", essential=True, user="1337"),
        d.update(proxyConfiguration={"type": "APPMESH", "containerName": "envoy", "properties": [
            {"name": "IgnoredUID", "value": "1337"}, {"name": "AppPorts", "value": "8080"}]})))),
    ("placementConstraints memberOf on EC2", ec2(lambda d: d.update(placementConstraints=[
        {"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.*"}]))),
]


@pytest.mark.parametrize("source, data", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_by_ecs(source, data):
    assert found(data) == ([], [])


# --- refused ----------------------------------------------------------------------------------------

P0 = "containerDefinitions[0]"
REFUSED = [
    # botocore shapes: required members and enums
    ("botocore Ulimit.name enum", taskdef(lambda d: c0(d).update(ulimits=[{"name": "files", "softLimit": 1,
                                                                            "hardLimit": 2}])),
     f"{P0}.ulimits[0].name: unknown ulimit 'files'"),
    ("botocore Ulimit.hardLimit required", taskdef(lambda d: c0(d).update(ulimits=[{"name": "nofile",
                                                                                     "softLimit": 1}])),
     f"{P0}.ulimits[0]: missing required key 'hardLimit'"),
    ("botocore LogConfiguration.logDriver enum", ec2(lambda d: c0(d).update(logConfiguration={"logDriver": "loki"})),
     f"{P0}.logConfiguration.logDriver: unknown log driver 'loki'"),
    ("botocore Secret (secretOptions) valueFrom required", ec2(lambda d: c0(d).update(logConfiguration={
        "logDriver": "splunk", "secretOptions": [{"name": "token"}]})),
     f"{P0}.logConfiguration.secretOptions[0]: missing required key 'valueFrom'"),
    ("botocore Device.hostPath required", ec2(lambda d: c0(d).update(linuxParameters={"devices": [
        {"containerPath": "/dev/x"}]})), f"{P0}.linuxParameters.devices[0]: missing required key 'hostPath'"),
    ("botocore DeviceCgroupPermission enum", ec2(lambda d: c0(d).update(linuxParameters={"devices": [
        {"hostPath": "/dev/x", "permissions": ["rw"]}]})),
     f"{P0}.linuxParameters.devices[0].permissions[0]: unknown device permission 'rw'"),
    ("botocore Tmpfs.size required", ec2(lambda d: c0(d).update(linuxParameters={"tmpfs": [
        {"containerPath": "/tmp"}]})), f"{P0}.linuxParameters.tmpfs[0]: missing required key 'size'"),
    ("KernelCapabilities.add valid values", ec2(lambda d: c0(d).update(linuxParameters={"capabilities": {
        "add": ["CAP_NET_ADMIN"]}})), f"{P0}.linuxParameters.capabilities.add[0]: unknown Linux capability "
                                      "'CAP_NET_ADMIN'"),
    ("LinuxParameters.swappiness 0-100", ec2(lambda d: c0(d).update(linuxParameters={"maxSwap": 0,
                                                                                      "swappiness": 101})),
     f"{P0}.linuxParameters.swappiness: swappiness must be between 0 and 100, got 101"),
    ("LinuxParameters.maxSwap 0 or more", ec2(lambda d: c0(d).update(linuxParameters={"maxSwap": -1})),
     f"{P0}.linuxParameters.maxSwap: maxSwap must be at least 0 MiB, got -1"),
    ("botocore ResourceRequirement.type enum", ec2(lambda d: c0(d).update(resourceRequirements=[
        {"type": "TPU", "value": "1"}])), f"{P0}.resourceRequirements[0].type: unknown resource type 'TPU'"),
    ("ResourceRequirement.value: a number of GPUs", ec2(lambda d: c0(d).update(resourceRequirements=[
        {"type": "GPU", "value": "all"}])), f"{P0}.resourceRequirements[0].value: a GPU requirement is a number"),
    ("botocore FirelensConfiguration.type required", taskdef(lambda d: c0(d).update(firelensConfiguration={
        "options": {}})), f"{P0}.firelensConfiguration: missing required key 'type'"),
    ("botocore EnvironmentFile.type enum", taskdef(lambda d: c0(d).update(environmentFiles=[
        {"value": "arn:aws:s3:::b/a.env", "type": "S3"}])),
     f"{P0}.environmentFiles[0].type: unknown environment file type 'S3'"),
    ("ContainerDefinition.environmentFiles: up to ten", taskdef(lambda d: c0(d).update(environmentFiles=[
        {"value": f"arn:aws:s3:::b/{i}.env", "type": "s3"} for i in range(11)])),
     f"{P0}.environmentFiles: at most 10 environment files, got 11"),
    ("botocore HostEntry.ipAddress required", ec2(lambda d: c0(d).update(extraHosts=[{"hostname": "db"}])),
     f"{P0}.extraHosts[0]: missing required key 'ipAddress'"),
    ("botocore RepositoryCredentials.credentialsParameter required", taskdef(lambda d: c0(d).update(
        repositoryCredentials={"arn": "x"})), f"{P0}.repositoryCredentials: missing required key "
                                              "'credentialsParameter'"),
    ("botocore ContainerRestartPolicy.enabled required", taskdef(lambda d: c0(d).update(restartPolicy={
        "restartAttemptPeriod": 60})), f"{P0}.restartPolicy: missing required key 'enabled'"),
    ("ContainerRestartPolicy.restartAttemptPeriod 60-1800", taskdef(lambda d: c0(d).update(restartPolicy={
        "enabled": True, "restartAttemptPeriod": 30})),
     f"{P0}.restartPolicy.restartAttemptPeriod: restartAttemptPeriod must be between 60 and 1800 seconds, got 30"),
    ("ContainerRestartPolicy.ignoredExitCodes: at most 50", taskdef(lambda d: c0(d).update(restartPolicy={
        "enabled": True, "ignoredExitCodes": list(range(51))})),
     f"{P0}.restartPolicy.ignoredExitCodes: at most 50 exit codes, got 51"),
    ("ContainerDefinition.credentialSpecs: at most one, credentialspec[domainless]:ARN", ec2(lambda d: c0(d).update(
        credentialSpecs=["arn:aws:ssm:x"])), f"{P0}.credentialSpecs[0]: a credential spec is credentialspec:ARN"),
    ("botocore VersionConsistency enum", taskdef(lambda d: c0(d).update(versionConsistency="on")),
     f"{P0}.versionConsistency: unknown versionConsistency 'on'"),
    ("PortMapping.name: 64 lowercase letters, digits, _ and -", taskdef(lambda d: c0(d)["portMappings"][0].update(
        name="Http")), f"{P0}.portMappings[0].name: invalid port mapping name 'Http'"),
    ("botocore EFSVolumeConfiguration.fileSystemId required", taskdef(lambda d: vol(d, name="data",
                                                                                    efsVolumeConfiguration={})),
     "volumes[0].efsVolumeConfiguration: missing required key 'fileSystemId'"),
    ("Volume.name required for EFS", taskdef(lambda d: vol(d, efsVolumeConfiguration={"fileSystemId": "fs-1"})),
     "volumes[0]: missing required key 'name': an EFS or S3 Files volume needs a name"),
    ("Volume.name charset", taskdef(lambda d: vol(d, name="my data")), "volumes[0].name: invalid volume name "
                                                                      "'my data'"),
    ("Volume.name referenced by mountPoints: unique", taskdef(lambda d: (vol(d, name="data"), vol(d, name="data"))),
     "volumes[1].name: duplicate volume name 'data' (also volumes[0])"),
    ("botocore FSxWindowsFileServerAuthorizationConfig.domain required", ec2(lambda d: vol(
        d, name="fsx", fsxWindowsFileServerVolumeConfiguration={"fileSystemId": "fs-1", "rootDirectory": "share",
                                                                "authorizationConfig": {"credentialsParameter": "a"}})),
     "volumes[0].fsxWindowsFileServerVolumeConfiguration.authorizationConfig: missing required key 'domain'"),
    ("botocore Scope enum", ec2(lambda d: vol(d, name="v", dockerVolumeConfiguration={"scope": "global"})),
     "volumes[0].dockerVolumeConfiguration.scope: unknown Docker volume scope 'global'"),
    ("botocore TaskDefinitionPlacementConstraintType enum", ec2(lambda d: d.update(placementConstraints=[
        {"type": "distinctInstance"}])), "placementConstraints[0].type: unknown placement constraint type "
                                         "'distinctInstance'"),
    ("RegisterTaskDefinition.placementConstraints: at most 10", ec2(lambda d: d.update(placementConstraints=[
        {"type": "memberOf", "expression": "x"}] * 11)), "placementConstraints: at most 10 placement constraints"),
    ("botocore PidMode enum", ec2(lambda d: d.update(pidMode="container")), "pidMode: unknown pidMode 'container'"),
    ("botocore IpcMode enum", ec2(lambda d: d.update(ipcMode="shareable")), "ipcMode: unknown ipcMode 'shareable'"),
    ("botocore ProxyConfiguration.containerName required", taskdef(lambda d: d.update(proxyConfiguration={
        "type": "APPMESH"})), "proxyConfiguration: missing required key 'containerName'"),
    ("botocore InferenceAccelerator.deviceType required", ec2(lambda d: d.update(inferenceAccelerators=[
        {"deviceName": "eia"}])), "inferenceAccelerators[0]: missing required key 'deviceType'"),
    ("EphemeralStorage.sizeInGiB 21-200", taskdef(lambda d: d.update(ephemeralStorage={"sizeInGiB": 20})),
     "ephemeralStorage.sizeInGiB: sizeInGiB must be between 21 and 200 GiB, got 20"),
    ("botocore CPUArchitecture enum", taskdef(lambda d: d.update(runtimePlatform={"cpuArchitecture": "AMD64"})),
     "runtimePlatform.cpuArchitecture: unknown cpuArchitecture 'AMD64'"),
    ("RegisterTaskDefinition.tags: at most 50", taskdef(lambda d: d.update(tags=[{"key": f"k{i}", "value": "v"}
                                                                                  for i in range(51)])),
     "tags: at most 50 tags, got 51"),
    ("RegisterTaskDefinition.tags: aws: prefix reserved", taskdef(lambda d: d.update(tags=[{"key": "aws:team",
                                                                                             "value": "x"}])),
     "tags[0].key: tag keys starting with 'aws:' are reserved for AWS"),
    ("RegisterTaskDefinition.tags: key unique", taskdef(lambda d: d.update(tags=[{"key": "a"}, {"key": "a"}])),
     "tags[1].key: tag key 'a' is used twice"),
    ("botocore TagKey max 128", taskdef(lambda d: d.update(tags=[{"key": "k" * 129}])),
     "tags[0].key: a tag key is 1 to 128 characters, got 129"),
    # cross-field: references
    ("MountPoint.sourceVolume: a volume of the task", taskdef(lambda d: (vol(d, name="data"), c0(d).update(
        mountPoints=[{"sourceVolume": "date", "containerPath": "/d"}]))),
     f"{P0}.mountPoints[0].sourceVolume: volume 'date' is not declared in the task's volumes (did you mean 'data'?)"),
    ("ContainerDefinition.volumesFrom: another container", ec2(lambda d: c0(d).update(volumesFrom=[
        {"sourceContainer": "db"}])), f"{P0}.volumesFrom[0].sourceContainer: container 'db' does not exist"),
    ("ContainerDefinition.links: containers of the task", ec2(lambda d: c0(d).update(links=["db:database"])),
     f"{P0}.links[0]: link 'db:database' names container 'db', which does not exist"),
    ("ProxyConfiguration.containerName: a container of the task", taskdef(lambda d: d.update(proxyConfiguration={
        "type": "APPMESH", "containerName": "envoy"})),
     "proxyConfiguration.containerName: container 'envoy' does not exist in this task definition"),
    ("ResourceRequirement.value: InferenceAccelerator matches a deviceName", ec2(lambda d: (
        d.update(inferenceAccelerators=[{"deviceName": "eia", "deviceType": "eia2.medium"}]),
        c0(d).update(resourceRequirements=[{"type": "InferenceAccelerator", "value": "eia1"}]))),
     f"{P0}.resourceRequirements[0].value: InferenceAccelerator 'eia1' is not a deviceName"),
    ("FireLens: awsfirelens needs a log router container", taskdef(lambda d: c0(d).update(logConfiguration={
        "logDriver": "awsfirelens", "options": {"Name": "stdout"}})),
     f"{P0}.logConfiguration.logDriver: the awsfirelens log driver needs a log router container"),
    # cross-field: network mode
    ("ContainerDefinition.links: bridge only", taskdef(lambda d: (add(d, name="db", image="postgres"),
                                                                  c0(d).update(links=["db"]))),
     f"{P0}.links: links need networkMode bridge, the task has networkMode awsvpc"),
    ("ContainerDefinition.hostname: not with awsvpc", taskdef(lambda d: c0(d).update(hostname="api")),
     f"{P0}.hostname: hostname is not supported with networkMode awsvpc"),
    ("ContainerDefinition.extraHosts: not with awsvpc", taskdef(lambda d: c0(d).update(extraHosts=[
        {"hostname": "db", "ipAddress": "10.0.0.5"}])), f"{P0}.extraHosts: extraHosts is not supported with "
                                                        "networkMode awsvpc"),
    ("ContainerDefinition.portMappings: none with networkMode none", ec2(lambda d: d.update(networkMode="none")),
     f"{P0}.portMappings: a task with networkMode none cannot have port mappings"),
    ("PortMapping.containerPortRange: bridge or awsvpc", ec2(lambda d: (d.update(networkMode="host"), c0(d).update(
        portMappings=[{"containerPortRange": "8000-8010"}]))),
     f"{P0}.portMappings[0].containerPortRange: containerPortRange needs networkMode bridge or awsvpc"),
    ("PortMapping.containerPortRange: first < last", taskdef(lambda d: c0(d).update(portMappings=[
        {"containerPortRange": "9000-8000"}])), f"{P0}.portMappings[0].containerPortRange: invalid "
                                                "containerPortRange '9000-8000'"),
    ("PortMapping.containerPortRange: no overlap", taskdef(lambda d: c0(d).update(portMappings=[
        {"containerPortRange": "8000-8100"}, {"containerPort": 8080}])),
     f"{P0}.portMappings[1]: tcp port 8080 is already mapped by portMappings[0]"),
    ("PortMapping.hostPort: empty with a containerPortRange", ec2(lambda d: c0(d).update(portMappings=[
        {"containerPortRange": "8000-8010", "hostPort": 8000}])),
     f"{P0}.portMappings[0].hostPort: leave hostPort out with a containerPortRange"),
    ("SystemControl.value: namespaced sysctls only", ec2(lambda d: c0(d).update(systemControls=[
        {"namespace": "vm.max_map_count", "value": "262144"}])),
     f"{P0}.systemControls[0].namespace: ECS sets only namespaced sysctls"),
    ("RegisterTaskDefinition.ipcMode: no IPC sysctls with host", ec2(lambda d: (d.update(ipcMode="host"), c0(d).update(
        systemControls=[{"namespace": "kernel.shmmax", "value": "1"}]))),
     f"{P0}.systemControls[0].namespace: kernel.shmmax is an IPC sysctl, which cannot be set with ipcMode host"),
    ("SystemControl: no network sysctls with networkMode host", ec2(lambda d: (
        d.update(networkMode="host"), c0(d).update(portMappings=[{"containerPort": 80}], systemControls=[
            {"namespace": "net.core.somaxconn", "value": "1"}]))),
     f"{P0}.systemControls[0].namespace: net.core.somaxconn is a network sysctl"),
    ("Volume.configuredAtLaunch: one volume per revision", taskdef(lambda d: (
        vol(d, name="a", configuredAtLaunch=True), vol(d, name="b", configuredAtLaunch=True))),
     "volumes[1].configuredAtLaunch: only one volume may be configured at launch (also volumes[0]"),
    ("EFSAuthorizationConfig.iam: transit encryption", taskdef(lambda d: vol(d, name="d", efsVolumeConfiguration={
        "fileSystemId": "fs-1", "authorizationConfig": {"iam": "ENABLED"}})),
     "volumes[0].efsVolumeConfiguration.authorizationConfig.iam: EFS IAM authorization needs transitEncryption"),
    ("EFSAuthorizationConfig.accessPointId: transit encryption", taskdef(lambda d: vol(
        d, name="d", efsVolumeConfiguration={"fileSystemId": "fs-1", "transitEncryption": "DISABLED",
                                             "authorizationConfig": {"accessPointId": "fsap-1"}})),
     "volumes[0].efsVolumeConfiguration.authorizationConfig.accessPointId: an EFS access point needs "
     "transitEncryption ENABLED"),
    ("EFSVolumeConfiguration.rootDirectory: / with an access point", taskdef(lambda d: vol(
        d, name="d", efsVolumeConfiguration={"fileSystemId": "fs-1", "rootDirectory": "/data",
                                             "transitEncryption": "ENABLED",
                                             "authorizationConfig": {"accessPointId": "fsap-1"}})),
     "volumes[0].efsVolumeConfiguration.rootDirectory: with an EFS access point, rootDirectory must be left out or "
     "'/'"),
    # cross-field: Fargate (requiresCompatibilities: "A client exception is returned if the task definition
    # doesn't validate against the compatibilities specified")
    ("ContainerDefinition.privileged: not on Fargate", taskdef(lambda d: c0(d).update(privileged=True)),
     f"{P0}.privileged: privileged is not supported on FARGATE"),
    ("ContainerDefinition.dockerSecurityOptions: not on Fargate", taskdef(lambda d: c0(d).update(
        dockerSecurityOptions=["no-new-privileges"])), f"{P0}.dockerSecurityOptions: dockerSecurityOptions is not "
                                                       "supported on FARGATE"),
    ("LogConfiguration.logDriver: Fargate drivers", taskdef(lambda d: c0(d).update(logConfiguration={
        "logDriver": "json-file"})), f"{P0}.logConfiguration.logDriver: FARGATE supports the log drivers awslogs, "
                                     "splunk, awsfirelens, not json-file"),
    ("LogConfiguration.options: awslogs-stream-prefix on Fargate", taskdef(lambda d: c0(d).update(logConfiguration={
        "logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "us-east-1"}})),
     f"{P0}.logConfiguration: awslogs on FARGATE needs the option awslogs-stream-prefix"),
    ("ECS ClientException: Fargate awslogs needs an execution role", taskdef(lambda d: (
        d.pop("executionRoleArn"), c0(d).update(logConfiguration={"logDriver": "awslogs", "options": {
            "awslogs-group": "g", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "api"}}))),
     "FARGATE needs an executionRoleArn for the awslogs log driver"),
    ("LinuxParameters.devices: not on Fargate", taskdef(lambda d: c0(d).update(linuxParameters={"devices": [
        {"hostPath": "/dev/fuse"}]})), f"{P0}.linuxParameters.devices: linuxParameters.devices is not supported on "
                                       "FARGATE"),
    ("LinuxParameters.tmpfs: not on Fargate", taskdef(lambda d: c0(d).update(linuxParameters={"tmpfs": [
        {"containerPath": "/tmp", "size": 64}]})), f"{P0}.linuxParameters.tmpfs: linuxParameters.tmpfs is not "
                                                   "supported on FARGATE"),
    ("LinuxParameters.sharedMemorySize: not on Fargate", taskdef(lambda d: c0(d).update(linuxParameters={
        "sharedMemorySize": 64})), f"{P0}.linuxParameters.sharedMemorySize: linuxParameters.sharedMemorySize is not "
                                   "supported on FARGATE"),
    ("LinuxParameters.maxSwap: not on Fargate", taskdef(lambda d: c0(d).update(linuxParameters={"maxSwap": 0})),
     f"{P0}.linuxParameters.maxSwap: linuxParameters.maxSwap is not supported on FARGATE"),
    ("KernelCapabilities.add: only SYS_PTRACE on Fargate", taskdef(lambda d: c0(d).update(linuxParameters={
        "capabilities": {"add": ["NET_ADMIN"]}})),
     f"{P0}.linuxParameters.capabilities.add[0]: FARGATE tasks can add only the SYS_PTRACE capability"),
    ("FirelensConfiguration.options: file config only on Fargate", taskdef(lambda d: c0(d).update(
        firelensConfiguration={"type": "fluentbit", "options": {"config-file-type": "s3",
                                                                "config-file-value": "arn:aws:s3:::b/f.conf"}})),
     f"{P0}.firelensConfiguration.options.config-file-type: FARGATE supports only config-file-type file"),
    ("RegisterTaskDefinition.pidMode: task only on Fargate", taskdef(lambda d: d.update(pidMode="host")),
     "pidMode: on FARGATE the only pidMode is task"),
    ("RegisterTaskDefinition.ipcMode: not on Fargate", taskdef(lambda d: d.update(ipcMode="task")),
     "ipcMode: ipcMode is not supported on FARGATE"),
    ("Volume.dockerVolumeConfiguration: not on Fargate", taskdef(lambda d: vol(d, name="v", dockerVolumeConfiguration={
        "scope": "task"})), "volumes[0].dockerVolumeConfiguration: Docker volumes are not supported on FARGATE"),
    ("HostVolumeProperties.sourcePath: not on Fargate", taskdef(lambda d: vol(d, name="v", host={
        "sourcePath": "/var/data"})), "volumes[0].host.sourcePath: host sourcePath is not supported on FARGATE"),
    ("GPU: not on Fargate", taskdef(lambda d: c0(d).update(resourceRequirements=[{"type": "GPU", "value": "1"}])),
     f"{P0}.resourceRequirements[0].type: GPUs are not available to FARGATE tasks"),
    # environment variable names (issue 16 item 4; see taskdef_names)
    ("environment name: no line break (env-file)", taskdef(lambda d: c0(d).update(environment=[
        {"name": "A\nB", "value": "1"}])), f"{P0}.environment[0].name: the name 'A\\nB' holds a newline"),
    ("environment name: no '='", taskdef(lambda d: c0(d).update(environment=[{"name": "A=B", "value": "1"}])),
     f"{P0}.environment[0].name: the name 'A=B' holds '='"),
    ("secrets name: no NUL", taskdef(lambda d: c0(d).update(secrets=[{"name": "A\0", "valueFrom": "arn:x"}])),
     f"{P0}.secrets[0].name: the name 'A\\x00' holds a NUL byte"),
]


@pytest.mark.parametrize("source, data, expected", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_by_register_task_definition(source, data, expected):
    errors, _ = found(data)
    assert any(e.startswith(expected) for e in errors), errors


WARNED = [
    ("PortMapping.containerPort: one network namespace in awsvpc", taskdef(lambda d: add(
        d, name="side", image="busybox", portMappings=[{"containerPort": 8080}])),
     "containerDefinitions[1].portMappings[0].containerPort: tcp port 8080 is also mapped by containerDefinitions[0]"),
    ("ContainerDefinition.links etc.: not supported for Windows containers", ec2(lambda d: (
        d.update(runtimePlatform={"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}),
        c0(d).update(readonlyRootFilesystem=True))),
     f"{P0}.readonlyRootFilesystem: readonlyRootFilesystem is not supported for Windows containers"),
    ("task placement: not used on Fargate", taskdef(lambda d: d.update(placementConstraints=[
        {"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}])),
     "placementConstraints: FARGATE does not use task placement constraints"),
    ("ContainerDefinition.memory: not less than 6 MiB", ec2(lambda d: c0(d).update(memory=4)),
     f"{P0}.memory: memory 4 MiB is below the 6 MiB"),
    ("Ulimit: soft limit above the hard limit", ec2(lambda d: c0(d).update(ulimits=[
        {"name": "nofile", "softLimit": 2048, "hardLimit": 1024}])),
     f"{P0}.ulimits[0].softLimit: the soft limit (2048) is above the hard limit (1024)"),
    ("environment name: not a portable shell name", taskdef(lambda d: c0(d).update(environment=[
        {"name": "spring.profiles.active", "value": "prod"}])),
     f"{P0}.environment[0].name: the name 'spring.profiles.active' is not a portable environment variable name"),
]


@pytest.mark.parametrize("source, data, expected", WARNED, ids=[w[0] for w in WARNED])
def test_accepted_with_a_warning(source, data, expected):
    """ECS registers these; they fail (or surprise) when the container starts."""
    errors, warnings = found(data)
    assert errors == []
    assert any(w.startswith(expected) for w in warnings), warnings


def test_every_problem_is_reported_at_once_with_its_position(tmp_path):
    from conveyor.config.taskdef import check_taskdef_file

    path = tmp_path / "taskdef.json"
    path.write_text('{\n  "family": "orders",\n  "networkMode": "awsvpc",\n  "requiresCompatibilities": ["FARGATE"],\n'
                    '  "cpu": "256", "memory": "512",\n  "containerDefinitions": [{\n    "name": "api",\n'
                    '    "image": "nginx",\n    "privileged": true,\n    "hostname": "api",\n'
                    '    "mountPoints": [{"sourceVolume": "data", "containerPath": "/d"}]\n  }]\n}\n')
    assert [str(d) for d in check_taskdef_file(path, "taskdef.json")] == [
        "taskdef.json:9:5 containerDefinitions[0].privileged: privileged is not supported on FARGATE "
        "(ContainerDefinition.privileged)",
        "taskdef.json:10:5 containerDefinitions[0].hostname: hostname is not supported with networkMode awsvpc "
        "(ContainerDefinition.hostname)",
        "taskdef.json:11:22 containerDefinitions[0].mountPoints[0].sourceVolume: volume 'data' is not declared in the "
        "task's volumes; the task declares no volumes",
    ]


def _paths(node, prefix=()):
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, prefix + (key,))


@pytest.mark.parametrize("junk", [None, [], {}, 0, -1, "x", "", True, [None], {"name": None}, 10**30])
def test_no_value_anywhere_makes_it_crash(junk):
    """Every value of a task definition using every nested object, replaced by junk one at a time:
    diagnostics, never a traceback."""
    rich = copy.deepcopy(ACCEPTED[0][1])
    rich["containerDefinitions"][0].update(
        ulimits=[{"name": "nofile", "softLimit": 1, "hardLimit": 2}], links=["api"], hostname="h",
        logConfiguration={"logDriver": "awslogs", "options": {"awslogs-stream-prefix": "p"},
                          "secretOptions": [{"name": "a", "valueFrom": "b"}]},
        linuxParameters={"capabilities": {"add": ["SYS_PTRACE"]},
                         "devices": [{"hostPath": "/d", "permissions": ["read"]}],
                         "tmpfs": [{"containerPath": "/t", "size": 1}], "maxSwap": 1, "swappiness": 1},
        resourceRequirements=[{"type": "GPU", "value": "1"}], firelensConfiguration={"type": "fluentbit"},
        environmentFiles=[{"value": "arn", "type": "s3"}], extraHosts=[{"hostname": "a", "ipAddress": "b"}],
        volumesFrom=[{"sourceContainer": "x"}], systemControls=[{"namespace": "net.x", "value": "1"}],
        restartPolicy={"enabled": True, "ignoredExitCodes": [1]}, credentialSpecs=["credentialspec:x"],
        portMappings=[{"containerPortRange": "1-2"}, {"containerPort": 8080, "name": "web"}],
        environment=[{"name": "A", "value": "1"}], secrets=[{"name": "S", "valueFrom": "arn"}])
    rich.update(tags=[{"key": "k", "value": "v"}], placementConstraints=[{"type": "memberOf", "expression": "e"}],
                proxyConfiguration={"type": "APPMESH", "containerName": "api", "properties": [{"name": "a"}]},
                inferenceAccelerators=[{"deviceName": "d", "deviceType": "t"}], ephemeralStorage={"sizeInGiB": 30},
                runtimePlatform={"operatingSystemFamily": "LINUX"}, pidMode="task", ipcMode="task")
    rich["volumes"].append({"name": "x", "host": {"sourcePath": "/x"}, "dockerVolumeConfiguration": {"scope": "task"},
                            "fsxWindowsFileServerVolumeConfiguration": {"fileSystemId": "f", "rootDirectory": "r",
                                                                        "authorizationConfig": {
                                                                            "credentialsParameter": "c",
                                                                            "domain": "d"}}})
    for path in list(_paths(rich))[1:]:
        broken = copy.deepcopy(rich)
        node = broken
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = copy.deepcopy(junk)
        found(broken)  # asserts the model is built exactly when there are no errors
