from omni2qbd.cli import main

main()
