"""The template renderer: YAML that CloudFormation's own parser (cfn-lint's) reads back as the
same data, deterministic, with each resource's conveyor.yml source as a comment."""

from __future__ import annotations

import pytest
from cfnlint.decode.cfn_yaml import loads

from conveyor.export.template import Equals, GetAtt, If, Join, Ref, Sub, Template


def sample() -> Template:
    t = Template("orders-service: production (from conveyor.yml)")
    vpc = t.parameter("VpcId", "AWS::EC2::VPC::Id", "The VPC")
    t.resource("Zeta", "AWS::SNS::Topic", {"TopicName": "yes"}, source="pipeline.stages[3]")
    t.resource("Alpha", "AWS::EC2::SecurityGroup", {
        "GroupDescription": "a: colon, and \"quotes\"", "VpcId": vpc,
        "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}],
        "Tags": [], "Empty": {}, "Numberish": "1.0", "Unicode": "déploiement →", "Multi": "line 1\nline 2\n",
        "Flag": True, "Nothing": None,
        "Arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:password::", "Inf": ".inf"},
        source="environments.production.services.orders.loadBalancer")
    t.output("Arn", GetAtt("Alpha", "GroupId"))
    t.output("Name", Join("-", [Ref("AWS::StackName"), Sub("${AWS::Region}-x")]))
    return t


def test_the_yaml_reads_back_as_the_template_data():
    t = sample()
    assert loads(t.render()) == t.to_data()


def test_output_is_deterministic_and_resources_are_sorted_with_their_source():
    text = sample().render()
    assert text == sample().render()
    assert text.index("  Alpha:") < text.index("  Zeta:")
    assert "  # from environments.production.services.orders.loadBalancer\n  Alpha:\n" in text
    assert "  # from pipeline.stages[3]\n  Zeta:\n" in text


def test_a_logical_id_is_used_once():
    t = Template("x")
    t.resource("A", "AWS::SNS::Topic", {})
    with pytest.raises(ValueError, match="resource A twice"):
        t.resource("A", "AWS::SNS::Topic", {})


def test_conditions_read_back_as_fn_if_and_fn_equals():
    t = Template("x")
    t.parameter("StartTasks", "String", "start them", default="true", allowed=["true", "false"])
    t.conditions["StartingTasks"] = Equals(Ref("StartTasks"), "true")
    t.resource("Topic", "AWS::SNS::Topic", {"DisplayName": If("StartingTasks", "on", "off")})
    data = loads(t.render())
    assert data == t.to_data()
    assert data["Conditions"] == {"StartingTasks": {"Fn::Equals": [{"Ref": "StartTasks"}, "true"]}}
    assert data["Resources"]["Topic"]["Properties"]["DisplayName"] == {"Fn::If": ["StartingTasks", "on", "off"]}
