"""python -m meshforge.cli"""

from meshforge.cli.app import main

main()
