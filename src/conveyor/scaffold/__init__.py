"""`conveyor init`'s pieces, pure: reading a Dockerfile (dockerfile), one name for everything
(naming) and the files it writes (templates). The command itself is conveyor.cli.init."""
