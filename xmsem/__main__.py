from xmsem.train import cli

cli()
