"""The `Git` source action: the tree at the execution's commit, and the commit's variables.

The commit was fixed when the execution started (CodeCommit semantics: HEAD of the branch at
the moment of the push, aws-semantics §2.3), so re-running this action exports the same tree.
"""

from __future__ import annotations

from conveyor.actions.base import ActionContext, ActionFailed, ActionResult


class GitSource:
    def run(self, ctx: ActionContext) -> ActionResult:
        rev = ctx.revision
        if not rev:
            raise ActionFailed("no revision was recorded for this source when the execution started")
        mirror = ctx.mirrors.mirror(rev["repository"])
        if not mirror.has(rev["commit"]):  # fetched when the execution started; fetch only if pruned since
            mirror = ctx.mirrors.fetch(rev["repository"])
        info = mirror.info(rev["commit"])
        out = ctx.new_output()
        mirror.export(rev["commit"], out)
        ctx.log(f"{rev['repository']} {rev['branch']} @ {info.commit[:12]}: "
                f"{info.message.splitlines()[0] if info.message else ''}")
        name = ctx.action.output_artifacts[0]
        repo_name = rev["repository"].rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        return ActionResult(
            outputs={name: out},
            variables={
                "CommitId": info.commit,
                "BranchName": rev["branch"],
                "CommitMessage": info.message[:100_000],
                "AuthorDate": info.author_date,
                "AuthorName": info.author,
                "CommitterDate": info.committer_date,
                "RepositoryName": repo_name,
            },
            summary=f"{rev['branch']}@{info.commit[:7]}",
        )

    def cleanup(self, run_dir) -> None:
        pass
